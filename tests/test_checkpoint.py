"""Tests of gptbook.checkpoint: round trips, half-precision weights, atomic writes that survive a
crash, clear errors for corrupt files and for weights made for another config."""

from __future__ import annotations

import pytest
import torch

import gptbook.checkpoint as ck
from gptbook.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    load_checkpoint,
    load_model,
    load_weights,
    save_checkpoint,
)
from gptbook.model import GPT, GPTConfig
from gptbook.tokenizers import BPETokenizer, CharTokenizer


def gpt(d_model: int = 16, n_layer: int = 2, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=20, context=8, n_layer=n_layer, n_head=2, d_model=d_model))


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_with_optimizer_tokenizer_and_extra(tmp_path):
    model = gpt()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))[1].backward()
    opt.step()
    tok = CharTokenizer.from_text("to be or not")
    path = tmp_path / "ck.pt"
    save_checkpoint(
        path, model, opt, step=7, extra={"note": "hi", "history": [{"loss": 1.5}]}, tokenizer=tok
    )
    state = load_checkpoint(path)
    assert state["step"] == 7 and state["extra"]["history"] == [{"loss": 1.5}]
    assert state["model_config"]["d_model"] == 16
    opt2 = torch.optim.AdamW(gpt(seed=1).parameters(), lr=1e-3)
    opt2.load_state_dict(state["optimizer"])
    assert torch.equal(
        opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )

    loaded, tok2 = load_model(path, device="cpu")
    assert not loaded.training
    assert same_weights(loaded, model)
    assert tok2.encode("not to be") == tok.encode("not to be")


def test_bpe_tokenizer_travels_as_a_dict(tmp_path):
    tok = BPETokenizer()
    tok.train("the cat sat on the mat, the cat sat. " * 20, vocab_size=262)
    save_checkpoint(tmp_path / "ck.pt", gpt(), tokenizer=tok)
    _, tok2 = load_model(tmp_path / "ck.pt", device="cpu")
    assert isinstance(tok2, BPETokenizer)
    assert tok2.merges == tok.merges
    assert load_checkpoint(tmp_path / "ck.pt")["tokenizer"] == tok.to_dict()  # no temporary file


def test_half_precision_weights_load_back_as_fp32(tmp_path):
    model = gpt(d_model=64)
    save_checkpoint(tmp_path / "full.pt", model)
    save_checkpoint(tmp_path / "half.pt", model, weights_dtype=torch.float16)
    state = load_checkpoint(tmp_path / "half.pt")
    assert state["model"]["transformer.wte.weight"].dtype == torch.float16
    loaded, _ = load_model(tmp_path / "half.pt", device="cpu")
    assert loaded.transformer.wte.weight.dtype == torch.float32
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * (tmp_path / "full.pt").stat().st_size


def test_a_crash_during_a_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    old = gpt(seed=0)
    save_checkpoint(path, old, step=1)
    before = path.read_bytes()

    real_save = torch.save

    def crashing_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(f.tell() // 2)  # half the bytes are on disk ...
        raise KeyboardInterrupt(
            "simulated crash in the middle of the write"
        )  # ... then the process dies

    monkeypatch.setattr(ck.torch, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, gpt(seed=1), step=2)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert load_checkpoint(path)["step"] == 1
    model, _ = load_model(path, device="cpu")
    assert same_weights(model, old)
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left behind


def test_a_crash_before_the_rename_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, gpt(seed=0), step=1)

    def no_rename(src, dst):
        raise OSError("simulated power cut before os.replace")

    monkeypatch.setattr(ck.os, "replace", no_rename)
    with pytest.raises(OSError, match="power cut"):
        save_checkpoint(path, gpt(seed=1), step=2)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_a_successful_write_replaces_the_file(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, gpt(seed=0), step=1)
    save_checkpoint(path, gpt(seed=1), step=2)
    assert load_checkpoint(path)["step"] == 2


def test_corrupt_and_truncated_files_give_a_clear_error(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, gpt())
    data = good.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint at all" * 10)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for bad in (truncated, garbage, empty):
        with pytest.raises(
            CheckpointError, match=r"not a readable checkpoint: it may be truncated or corrupt"
        ):
            load_checkpoint(bad)


def test_missing_file_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a gptbook checkpoint"):
        load_checkpoint(other)


class Sneaky:
    def __reduce__(self):
        return (print, ("code ran while loading!",))


def test_loading_never_runs_pickled_code(tmp_path, capsys):
    path = tmp_path / "sneaky.pt"
    torch.save({"format": ck.FORMAT, "version": ck.VERSION, "payload": Sneaky()}, path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    assert "code ran" not in capsys.readouterr().out


def test_weights_for_another_config_name_the_shapes_that_differ(tmp_path):
    save_checkpoint(tmp_path / "small.pt", gpt(d_model=16))
    state = load_checkpoint(tmp_path / "small.pt")
    with pytest.raises(CheckpointMismatchError) as err:
        load_weights(gpt(d_model=32), state)
    msg = str(err.value)
    assert "transformer.wte.weight: checkpoint (20, 16) vs model (20, 32)" in msg
    assert "transformer.h.0.attn.c_attn.weight: checkpoint (48, 16) vs model (96, 32)" in msg
    assert "another config" in msg

    with pytest.raises(
        CheckpointMismatchError, match=r"in the checkpoint but not the model: transformer\.h\.1\."
    ):
        load_weights(gpt(n_layer=1), state)
    with pytest.raises(
        CheckpointMismatchError, match=r"missing from the checkpoint: transformer\.h\.2\."
    ):
        load_weights(gpt(n_layer=3), state)


def test_load_model_rejects_a_file_whose_config_and_weights_disagree(tmp_path):
    model = gpt(d_model=16)
    save_checkpoint(tmp_path / "ck.pt", model)
    state = load_checkpoint(tmp_path / "ck.pt")
    state["model_config"]["d_model"] = 32  # as if the code's shapes had changed since it was saved
    torch.save(state, tmp_path / "edited.pt")
    with pytest.raises(CheckpointMismatchError, match="shapes differ"):
        load_model(tmp_path / "edited.pt", device="cpu")
