"""Checkpoints under hostile use: edited, foreign, newer, NaN and malicious files.

Every problem must be a :class:`CheckpointError` whose message says what is wrong and what to do;
loading never runs code from the file and never suggests loading it unsafely.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gptbook.checkpoint as ck
from gptbook.checkpoint import (
    CheckpointError,
    NonFiniteWeightsError,
    NotResumableError,
    load_checkpoint,
    load_model,
    require_training_state,
    save_checkpoint,
)
from gptbook.model import GPT, GPTConfig
from gptbook.pretrained import BASE_MODEL
from gptbook.tokenizers import CharTokenizer

CONFIG = GPTConfig(vocab_size=12, context=8, n_layer=1, n_head=2, d_model=8)


def tiny_state(tmp_path) -> dict:
    torch.manual_seed(0)
    path = tmp_path / "good.pt"
    save_checkpoint(path, GPT(CONFIG), tokenizer=CharTokenizer("abcdefghijkl"))
    return load_checkpoint(path)


def write(tmp_path, state, name: str = "edited.pt"):
    path = tmp_path / name
    torch.save(state, path)
    return path


def test_the_tied_embedding_is_stored_once_and_retied_on_load(tmp_path):
    state = tiny_state(tmp_path)
    assert "lm_head.weight" not in state["model"]
    model, _ = load_model(tmp_path / "good.pt", device="cpu")
    assert model.lm_head.weight is model.transformer.wte.weight
    assert torch.equal(model.transformer.wte.weight, state["model"]["transformer.wte.weight"])


def test_an_old_checkpoint_with_two_copies_loads_only_if_they_agree(tmp_path):
    state = tiny_state(tmp_path)
    state["model"]["lm_head.weight"] = state["model"]["transformer.wte.weight"].clone()
    load_model(write(tmp_path, state, "old.pt"), device="cpu")  # as older versions wrote it
    state["model"]["lm_head.weight"][0, 0] += 1.0
    with pytest.raises(CheckpointError, match="tied weights transformer.wte.weight and lm_head"):
        load_model(write(tmp_path, state), device="cpu")


def test_the_shipped_base_model_still_loads():
    state = load_checkpoint(BASE_MODEL)
    model, tokenizer = load_model(BASE_MODEL, device="cpu")
    assert isinstance(state["tokenizer"], (str, dict))
    assert tokenizer.decode(tokenizer.encode("To be, or not")) == "To be, or not"
    assert model.lm_head.weight is model.transformer.wte.weight


def test_a_tokenizer_stored_as_json_text_by_older_versions_loads(tmp_path):
    state = tiny_state(tmp_path)
    state["tokenizer"] = json.dumps(state["tokenizer"])
    _, tokenizer = load_model(write(tmp_path, state), device="cpu")
    assert tokenizer.encode("abc") == [0, 1, 2]


def test_a_corrupt_tokenizer_is_reported_under_the_checkpoints_own_path(tmp_path):
    state = tiny_state(tmp_path)
    state["tokenizer"]["chars"] = ["ab", 3]
    path = write(tmp_path, state)
    with pytest.raises(CheckpointError, match="tokenizer stored in") as err:
        load_model(path, device="cpu")
    assert str(path) in str(err.value) and "/tmp/tmp" not in str(err.value)


def test_unknown_config_keys_name_a_newer_version(tmp_path):
    state = tiny_state(tmp_path)
    state["model_config"].update(rope=True, n_kv_head=1)
    with pytest.raises(CheckpointError, match=r"newer version of gptbook.*\(n_kv_head, rope\)"):
        load_model(write(tmp_path, state), device="cpu")


def test_non_finite_weights_are_refused(tmp_path):
    state = tiny_state(tmp_path)
    state["model"]["transformer.h.0.mlp.c_fc.weight"][1, 2] = float("inf")
    with pytest.raises(NonFiniteWeightsError, match="NaN or infinite weights in transformer.h.0"):
        load_model(write(tmp_path, state), device="cpu")


class Sneaky:
    def __reduce__(self):
        return (print, ("code ran while loading!",))


def test_a_malicious_file_is_refused_without_advice_to_load_it_unsafely(tmp_path, capsys):
    path = write(tmp_path, {"format": ck.FORMAT, "version": ck.VERSION, "payload": Sneaky()})
    with pytest.raises(CheckpointError) as err:
        load_model(path, device="cpu")
    message = str(err.value)
    assert "refuses it" in message and "weights_only" not in message and "trust" not in message
    assert "code ran" not in capsys.readouterr().out


def test_a_model_file_is_not_resumable(tmp_path):
    state = tiny_state(tmp_path)
    with pytest.raises(NotResumableError, match="cannot be resumed"):
        require_training_state(state, tmp_path / "good.pt")


def test_a_huge_config_fails_fast_without_allocating(tmp_path):
    state = tiny_state(tmp_path)
    state["model_config"].update(vocab_size=10**9, d_model=4096)  # would need 16 GB of weights
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(write(tmp_path, state), device="cpu")


# ---------------------------------------------------------------------------------------------
# The property: whatever a file holds, loading succeeds or raises CheckpointError
# ---------------------------------------------------------------------------------------------

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=4),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(-3, 3), max_size=2),
    st.builds(torch.zeros, st.integers(0, 3)),
)
CONFIG_VALUE = st.one_of(
    st.integers(-2, 10**4), st.floats(allow_nan=True), st.text(max_size=3), st.booleans(), st.none()
)
TENSOR = st.one_of(
    st.builds(lambda n: torch.full((n, 8), float("nan")), st.integers(0, 12)),
    st.builds(lambda n: torch.zeros(12, n, dtype=torch.long), st.integers(0, 9)),
    st.builds(lambda: torch.ones(12, 8, dtype=torch.float16)),
    st.builds(lambda x: torch.full((12, 8), x), st.floats(allow_nan=True, width=32)),
)

EDITS = st.one_of(
    st.tuples(
        st.just("field"),
        st.sampled_from(sorted(ck._FIELD_TYPES) + ["format", "version"]),
        ANY_VALUE,
    ),
    st.tuples(
        st.just("config"),
        st.sampled_from([f for f in CONFIG.__dataclass_fields__] + ["new"]),
        CONFIG_VALUE,
    ),
    st.tuples(
        st.just("weight"),
        st.sampled_from(
            ["transformer.wte.weight", "lm_head.weight", "transformer.h.0.attn.c_attn.weight", "x"]
        ),
        st.one_of(TENSOR, ANY_VALUE),
    ),
    st.tuples(
        st.just("drop"),
        st.sampled_from(["transformer.wpe.weight", "model_config", "tokenizer", "model"]),
        st.none(),
    ),
    st.tuples(st.just("tokenizer"), st.sampled_from(["kind", "version", "chars"]), ANY_VALUE),
)


def apply(state: dict, edit: tuple) -> None:
    kind, key, value = edit
    if kind == "field":
        state[key] = value
    elif kind == "config" and isinstance(state.get("model_config"), dict):
        state["model_config"][key] = value
    elif kind == "weight" and isinstance(state.get("model"), dict):
        state["model"][key] = value
    elif kind == "drop":
        state.pop(key, None)
        if isinstance(state.get("model"), dict):
            state["model"].pop(key, None)
    elif kind == "tokenizer" and isinstance(state.get("tokenizer"), dict):
        state["tokenizer"][key] = value


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=st.lists(EDITS, min_size=1, max_size=3))
def test_any_edited_checkpoint_loads_or_raises_checkpoint_error(tmp_path, edits):
    state = tiny_state(tmp_path)
    for edit in edits:
        apply(state, edit)
    path = write(tmp_path, state)
    try:
        model, _ = load_model(path, device="cpu")
    except CheckpointError as e:
        assert str(e).endswith(".") or "\n" in str(e)  # a full sentence
        return
    assert all(torch.isfinite(p).all() for p in model.parameters())  # (huge ones may overflow)


def test_extra_data_the_safe_load_would_refuse_is_refused_at_save_time(tmp_path):
    path = tmp_path / "ck.pt"
    with pytest.raises(CheckpointError, match="extra must hold only plain data"):
        save_checkpoint(path, GPT(CONFIG), extra={"when": object()})
    assert not path.exists()
    save_checkpoint(path, GPT(CONFIG), extra={"history": [{"loss": 1.0}], "rng": torch.zeros(3)})
    assert load_checkpoint(path)["extra"]["history"] == [{"loss": 1.0}]
