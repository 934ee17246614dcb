"""Programmatic runs (demo, study): best-on-validation checkpoints, optionally of EMA weights."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from tests.conftest import tiny_teacher_run

from hicd.models.checkpoint import load_model
from hicd.training.runs import fit_best


class StepsSeen(pl.Callback):
    def __init__(self) -> None:
        self.steps = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps += 1


def test_fit_best_with_ema_saves_the_averaged_weights(tmp_path):
    torch.manual_seed(0)
    module, data = tiny_teacher_run()
    seen = StepsSeen()
    path = fit_best(
        module, data, steps=4, run=tmp_path, val_every=4, progress=False, ema_decay=0.5,
        callbacks=[seen],
    )  # fmt: skip
    assert seen.steps == 4  # extra callbacks run beside the trainer's own
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    averaged, current = checkpoint["state_dict"], checkpoint["current_model_state"]
    name = "model.head.0.0.weight" if "model.head.0.0.weight" in averaged else next(iter(averaged))
    assert not torch.equal(averaged[name], current[name])
    model, _ = load_model(path)  # the averaged weights are what hicd tools load
    assert torch.equal(model.state_dict()[name.removeprefix("model.")], averaged[name])


def test_one_checkpoint_policy_for_hicd_fit_and_runs(tmp_path) -> None:
    from hicd.cli.lightning import CHECKPOINT_DEFAULTS, CHECKPOINT_GROUPS
    from hicd.training.checkpointing import POLICIES, checkpoint_callback

    assert CHECKPOINT_GROUPS == ("checkpoint", "last_checkpoint")
    for group, which in zip(CHECKPOINT_GROUPS, ("best", "last"), strict=True):
        for key, value in POLICIES[which].items():
            assert CHECKPOINT_DEFAULTS[f"{group}.{key}"] == value
    best = checkpoint_callback(tmp_path, "best")
    assert (best.monitor, best.mode, best.filename, best.save_top_k) == ("val/f1", "max", "best", 1)
