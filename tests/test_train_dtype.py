"""Training compute dtype (issue 20): train.dtype resolves by the shared rule, bf16 runs the
Trainer's step under CPU autocast with float32 weights, and the resolved dtype keys the run."""

from __future__ import annotations

import json

import pytest

import trainers
from gecko_bench import hardware
from gecko_bench.config import TrainConfig
from gecko_bench.errors import InputError
from train_helpers import fret_rows, tiny_cfg, write_jsonl
from trainers.core import train_dtype, training_args


def test_train_dtype_follows_the_shared_rule(monkeypatch, tmp_path):
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)
    assert train_dtype(tiny_cfg(dtype="auto"), "cpu") == "bfloat16"
    assert training_args(tmp_path, tiny_cfg(dtype="auto"), 1, 2, "cpu").bf16 is True
    assert training_args(tmp_path, tiny_cfg(dtype="float32"), 1, 2, "cpu").bf16 is False
    assert train_dtype(TrainConfig(), "cpu") == "bfloat16"  # the default: auto
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    assert train_dtype(tiny_cfg(dtype="auto"), "cpu") == "float32"
    assert training_args(tmp_path, tiny_cfg(dtype="auto"), 1, 2, "cpu").bf16 is False
    assert training_args(tmp_path, tiny_cfg(dtype="bfloat16"), 1, 2, "cpu").bf16 is True
    with pytest.raises(InputError, match="unknown train dtype 'half'; valid: auto, float32"):
        train_dtype(tiny_cfg(dtype="half"), "cpu")


@pytest.mark.assets
def test_bf16_step_runs_under_cpu_autocast_with_float32_weights(tmp_path):
    """transformers' Trainer takes bf16=True on CPU (accelerate autocasts): the layers compute
    in bfloat16 during the step, the weights and their gradients stay float32."""
    import torch
    from sentence_transformers import SentenceTransformerTrainer

    from gecko_bench.assets.loaders import load_sentence_transformer
    from trainers.data import Example, to_dataset
    from trainers.losses import build_loss

    cfg = tiny_cfg(dtype="bfloat16", max_seq_length=8, warmup_ratio=0.0)  # step 1 moves weights
    ds = to_dataset([Example(**r) for r in fret_rows(n_books=2, n_wiki=2)[:2]], "gecko")
    model = load_sentence_transformer("minilm-l6")
    model.max_seq_length = 8
    model.model_card_data.generate_widget_examples = False
    seen: list[tuple[torch.dtype, bool]] = []
    layer = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    layer.register_forward_hook(
        lambda mod, i, o: seen.append((o.dtype, torch.is_autocast_enabled("cpu"))))
    before = layer.weight.detach().clone()
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args(tmp_path, cfg, 1, 2, "cpu", save_strategy="no"),
        train_dataset=ds, loss=build_loss(model, cfg.temperature, mrl_dims=None))
    trainer.train()
    assert seen and all(s == (torch.bfloat16, True) for s in seen)
    assert layer.weight.dtype == torch.float32 and not torch.equal(layer.weight, before)


@pytest.mark.assets
def test_resolved_dtype_keys_the_run(tmp_path, monkeypatch):
    """A float32 checkpoint is reused by float32 and by auto where auto means float32, and
    refused to a bfloat16 run of the same config (a different run); the manifest says which."""
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    db = tmp_path / "t.duckdb"
    fret = write_jsonl(fret_rows(n_books=4, n_wiki=4), tmp_path / "fret.jsonl")
    cfg = tiny_cfg(dtype="float32", finetune_steps=1, finetune_batch_size=4, max_seq_length=16)
    out = tmp_path / "ft"
    ft = trainers.finetune(cfg, fret, "minilm-l6", out, db_path=db, mrl=False)
    manifest = json.loads((ft / "manifest.json").read_text())
    assert manifest["dtype"] == "float32" and "dtype" not in manifest["key_material"]
    assert "dtype" not in manifest["key_material"]["config"]
    key = manifest["checkpoint_key"]
    again = trainers.finetune(tiny_cfg(**{**vars(cfg), "dtype": "auto"}), fret, "minilm-l6", out,
                              db_path=db, mrl=False)
    assert json.loads((again / "manifest.json").read_text())["checkpoint_key"] == key
    bf16 = tiny_cfg(**{**vars(cfg), "dtype": "bfloat16"})
    with pytest.raises(InputError, match=r"different config \(dtype: None -> 'bfloat16'"):
        trainers.finetune(bf16, fret, "minilm-l6", out, db_path=db, mrl=False)
