"""Tests of gptbook.gpt2_weights: a GPT-2-shaped checkpoint made locally by transformers (tiny
shapes, random weights; nothing downloaded) is converted in both of its file layouts and gives
transformers' logits; wrong files are refused with a message saying what is wrong."""

from __future__ import annotations

import json
import struct

import pytest
import torch

from gptbook.checkpoint import load_model, save_checkpoint
from gptbook.gpt2_weights import (
    GPT2WeightsError,
    convert_gpt2,
    gpt2_config,
    load_gpt2,
    read_safetensors,
    read_weights,
)

transformers = pytest.importorskip("transformers")


def hf_gpt2(vocab: int = 101, d_model: int = 32, n_head: int = 4, n_layer: int = 2,
            context: int = 16, **extra):
    """A tiny GPT-2 from transformers with every weight random (biases and norms too)."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=vocab, n_positions=context, n_embd=d_model, n_layer=n_layer, n_head=n_head,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0, **extra,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def save_hf(model, folder, safe: bool = True):
    """``model`` saved as the hub stores GPT-2: ``config.json`` and ``model.safetensors`` (by
    transformers itself), or ``pytorch_model.bin`` in the older layout: a torch-saved state dict
    with GPT2Model's names (no ``transformer.`` prefix, no ``lm_head``) and the causal-mask
    buffers ``h.N.attn.bias`` that transformers used to save with the weights."""
    transformers.utils.logging.set_verbosity_error()
    if safe:
        model.save_pretrained(folder)
        return folder
    model.config.save_pretrained(folder)
    state = {k.removeprefix("transformer."): v for k, v in model.state_dict().items()
             if k != "lm_head.weight"}
    ctx = model.config.n_positions
    for i in range(model.config.n_layer):
        state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(ctx, ctx, dtype=torch.bool))[None, None]
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def logits_gap(ours, hf, vocab: int, context: int) -> float:
    idx = torch.randint(0, vocab, (2, context), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return (ours(idx)[0] - hf(idx).logits).abs().max().item()


@pytest.mark.parametrize("safe", [True, False], ids=["model.safetensors", "pytorch_model.bin"])
def test_a_hugging_face_folder_converts_and_gives_transformers_logits(tmp_path, safe):
    hf = hf_gpt2()
    folder = save_hf(hf, tmp_path / "gpt2", safe)
    name = "model.safetensors" if safe else "pytorch_model.bin"
    assert (folder / name).is_file() and (folder / "config.json").is_file()
    out = tmp_path / "converted.pt"
    summary = convert_gpt2(folder, out)
    assert summary["config"] == dict(vocab_size=101, context=16, n_layer=2, n_head=4, d_model=32,
                                     dropout=0.0, bias=True)
    assert summary["tokenizer"] is None  # not GPT-2's vocabulary, so no GPT-2 tokenizer
    model, tokenizer = load_model(out, device="cpu")
    assert tokenizer is None
    assert logits_gap(model, hf, 101, 16) < 1e-5
    # the weights file given directly converts the same (heads from config.json next to it)
    again = load_gpt2(folder / name)
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), model.parameters()))


def test_our_safetensors_reader_matches_the_safetensors_library(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5, dtype=torch.int64),
               "c": torch.randn(2, 2).to(torch.bfloat16), "d": torch.zeros(0, 3),
               "e": torch.randn(7).half()}
    safetensors_torch.save_file(tensors, tmp_path / "x.safetensors", metadata={"k": "v"})
    got = read_safetensors(tmp_path / "x.safetensors")
    assert set(got) == set(tensors)
    for name, t in tensors.items():
        assert got[name].dtype == t.dtype and torch.equal(got[name], t)


def test_heads_come_from_gpt2s_sizes_when_there_is_no_config_json(tmp_path):
    hf = hf_gpt2(d_model=768, n_head=12, n_layer=1, vocab=7, context=4)
    state = hf.state_dict()
    assert gpt2_config(state).n_head == 12
    # GPT2Model's layout (no "transformer." prefix), as on the hub
    bare = {k.removeprefix("transformer."): v for k, v in state.items() if k != "lm_head.weight"}
    assert gpt2_config(bare).n_layer == 1
    odd = hf_gpt2(d_model=40, n_head=5, n_layer=1, vocab=7, context=4).state_dict()
    with pytest.raises(GPT2WeightsError, match="width 40.*pass --n-head"):
        gpt2_config(odd)
    assert gpt2_config(odd, n_head=5).n_head == 5
    torch.save(odd, tmp_path / "pytorch_model.bin")
    with pytest.raises(GPT2WeightsError, match="--n-head"):
        load_gpt2(tmp_path)
    assert load_gpt2(tmp_path, n_head=5).config.n_head == 5


def test_gpt2s_vocabulary_gets_gpt2s_tokenizer(tmp_path):
    hf = hf_gpt2(vocab=50257, d_model=8, n_head=2, n_layer=1, context=8)
    out = tmp_path / "gpt2.pt"
    summary = convert_gpt2(save_hf(hf, tmp_path / "hf"), out, weights_dtype=torch.float16)
    assert summary["tokenizer"] == "GPT-2's BPE"
    model, tokenizer = load_model(out, device="cpu")
    text = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of someunknownPlace."
    assert tokenizer.encode(text, allowed_special="all") == [
        15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114, 286,
        617, 34680, 27271, 13]
    assert logits_gap(model, hf, 50257, 8) < 1e-2  # stored in float16


def test_wrong_files_are_refused_with_a_reason(tmp_path):
    text = tmp_path / "model.safetensors"
    text.write_text("these are not weights")
    with pytest.raises(GPT2WeightsError, match="not a readable safetensors file"):
        read_weights(text)
    lying = tmp_path / "lying.safetensors"
    header = json.dumps({"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}})
    lying.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 16)
    with pytest.raises(GPT2WeightsError, match="bytes of 'w' do not match"):
        read_weights(lying)

    hostile = tmp_path / "hostile.bin"
    torch.save({"w": torch.zeros(2), "code": GPT2WeightsError("x")}, hostile)
    with pytest.raises(GPT2WeightsError, match="could run code.*refused"):
        read_weights(hostile)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"neither a zip archive nor a pickle")
    with pytest.raises(GPT2WeightsError, match="not a readable PyTorch file"):
        read_weights(garbage)

    ours = tmp_path / "ours.pt"
    save_checkpoint(ours, torch.nn.Linear(2, 2))
    with pytest.raises(GPT2WeightsError, match="already a gptbook checkpoint"):
        read_weights(ours)
    other = tmp_path / "other.bin"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(GPT2WeightsError, match="not a GPT-2 checkpoint.*encoder.weight"):
        load_gpt2(other)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GPT2WeightsError, match="neither model.safetensors nor pytorch_model.bin"):
        load_gpt2(empty)
    with pytest.raises(FileNotFoundError, match="No file or folder"):
        load_gpt2(tmp_path / "missing")


def test_a_mismatched_config_json_or_a_different_model_is_refused(tmp_path):
    folder = save_hf(hf_gpt2(), tmp_path / "hf")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "n_layer": 3}))
    with pytest.raises(GPT2WeightsError, match="n_layer 3 vs 2.*different models"):
        load_gpt2(folder)
    (folder / "config.json").write_text(json.dumps({**config, "activation_function": "relu"}))
    with pytest.raises(GPT2WeightsError, match="activation 'relu'"):
        load_gpt2(folder)
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(GPT2WeightsError, match="model_type is 'llama'"):
        load_gpt2(folder)
    state = hf_gpt2().state_dict()
    del state["transformer.h.1.mlp.c_fc.bias"]
    torch.save(state, tmp_path / "broken.bin")
    with pytest.raises(GPT2WeightsError, match="missing keys: transformer.h.1.mlp.c_fc.bias"):
        load_gpt2(tmp_path / "broken.bin", n_head=4)


# --------------------------------------------------------------------------- the command


def test_the_convert_command_makes_a_model_generate_can_use(tmp_path, capsys):
    from gptbook.cli import main

    hf = hf_gpt2(vocab=50257, d_model=8, n_head=2, n_layer=1, context=8)
    folder = save_hf(hf, tmp_path / "hf", safe=False)
    out = tmp_path / "gpt2.pt"
    assert main(["convert-gpt2", str(folder), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "1 layers, 2 heads, width 8, context 8, vocabulary 50,257" in said
    assert "GPT-2's tokenizer stored" in said and f"--checkpoint {out}" in said
    assert main(["generate", "--checkpoint", str(out), "--prompt", "Hello", "--tokens", "3",
                 "--device", "cpu"]) == 0
    assert capsys.readouterr().out.startswith("Hello")
    # an existing file is kept unless --overwrite says otherwise
    assert main(["convert-gpt2", str(folder), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["convert-gpt2", str(folder), "--out", str(out), "--overwrite", "--half"]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "x.bin"], "--out must name a .pt file"),
        (["--out", "x.pt", "--n-head", "0"], "--n-head must be a positive"),
    ],
)
def test_the_convert_command_refuses_bad_options(tmp_path, capsys, args, message):
    from gptbook.cli import main

    folder = save_hf(hf_gpt2(), tmp_path / "hf")
    args = [a if a not in ("x.bin", "x.pt") else str(tmp_path / a) for a in args]
    assert main(["convert-gpt2", str(folder), *args]) == 2
    assert message in capsys.readouterr().err


def test_the_convert_command_refuses_a_wrong_file_in_one_line(tmp_path, capsys):
    from gptbook.cli import main

    (tmp_path / "notes.txt").write_text("not weights")
    assert main(["convert-gpt2", str(tmp_path / "notes.txt"), "--out",
                 str(tmp_path / "o.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a readable PyTorch file" in err
    assert "Traceback" not in err and not (tmp_path / "o.pt").exists()
