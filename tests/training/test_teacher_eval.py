"""TeacherModule and the shared evaluation: metrics over the whole set, tiled inference,
optimiser and learning-rate schedules, checkpoint metadata."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn
from torch.utils.data import DataLoader

from hicd.data import Tiling, collate_samples
from hicd.errors import ConfigError
from hicd.inference.tiled import BATCH_SIZE
from hicd.models import ChangeOutput
from hicd.models.losses import TaskLossConfig
from hicd.training import NetworkConfig, OptimConfig, TeacherModule
from hicd.training.optim import lr_factor

TINY = {"pretrained": None, "options": {"decoder_channels": 16}}


class ThresholdModel(nn.Module):
    """Predicts change where t1's first channel exceeds 0.5."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int]] = []

    def forward(self, t1, t2):
        self.calls.append(tuple(t1.shape[-2:]))
        x = t1[:, 0]
        return ChangeOutput(logits=torch.stack([1 - x, x], dim=1))


def sample(prediction: list[int], label: list[int], name: str) -> dict:
    t1 = torch.tensor(prediction, dtype=torch.float32).view(1, 1, -1).expand(3, 1, -1)
    return {
        "t1": t1.contiguous(),
        "t2": torch.zeros_like(t1),
        "mask": torch.tensor(label).view(1, -1),
        "name": name,
    }


def test_validation_metrics_are_global_over_the_set():
    # Batch 1: tp=1 (F1 1.0); batch 2: tp=1, fp=3 (F1 0.4); a 255 pixel is ignored.
    # Averaging batches would give 0.7; the confusion matrix of the set gives 4/7.
    samples = [
        sample([1, 0, 0, 0], [1, 0, 0, 255], "a"),
        sample([1, 1, 1, 1], [1, 0, 0, 0], "b"),
    ]
    module = TeacherModule(network=TINY)
    module.model = ThresholdModel()
    trainer = Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    loader = DataLoader(samples, batch_size=1, collate_fn=collate_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (scores,) = trainer.validate(module, dataloaders=loader, verbose=False)
    assert scores["val/f1"] == pytest.approx(4 / 7)
    assert scores["val/precision"] == pytest.approx(2 / 5)
    assert scores["val/recall"] == pytest.approx(1.0)
    assert scores["val/iou"] == pytest.approx(2 / 5)
    # The metric state is reset for the next validation.
    assert module.metrics["val"].counts() == {"tp": 0, "fp": 0, "tn": 0, "fn": 0}


def test_validation_tiles_cover_the_image_exactly():
    module = TeacherModule(network=TINY)
    module.model = model = ThresholdModel()
    t1 = torch.rand(2, 3, 40, 56)
    whole = module(t1, t1)  # eval_tile None: one pass over the batch
    assert model.calls == [(40, 56)]
    module.eval_tile = 16
    assert module.eval_tiling(40, 56) == Tiling(16, 4)
    model.calls.clear()
    tiled = module(t1, t1)
    assert torch.allclose(whole, tiled, atol=1e-6)
    # Tiling(16, 4): 3 × 5 windows per image, BATCH_SIZE windows per forward pass
    assert set(model.calls) == {(16, 16)} and len(model.calls) == 2 * math.ceil(15 / BATCH_SIZE)
    model.calls.clear()
    module.eval_tile = 64
    module(t1, t1)  # no larger than the tile: one pass
    assert model.calls == [(40, 56)]


def test_teacher_step_checkpoint_info_and_hparams():
    module = TeacherModule(
        network=NetworkConfig(**TINY),
        optim=OptimConfig(lr=0.01),
        loss=TaskLossConfig(dice_weight=0.5),
        crop_size=64,
    )
    data = {
        "t1": torch.rand(2, 3, 64, 64),
        "t2": torch.rand(2, 3, 64, 64),
        "mask": torch.randint(0, 2, (2, 64, 64)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log without a trainer
        loss = module.training_step(data, 0)
    loss.backward()
    assert all(p.grad is not None for p in module.model.parameters() if p.requires_grad)
    info = module.checkpoint_info()
    assert (info.role, info.tile_size, info.method) == ("teacher", 64, None)
    assert info.model_config == module.model.config
    # Option groups are stored as plain dicts, so checkpoints load with weights_only=True.
    assert module.hparams["network"] == {**NetworkConfig().__dict__, **TINY}
    assert module.hparams["optim"]["lr"] == 0.01
    assert module.hparams["loss"] == {"dice_weight": 0.5, "ignore_index": 255}


def test_schedules():
    cosine = lr_factor(OptimConfig(schedule="cosine", warmup_steps=10, min_lr_ratio=0.1), 110)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(10) == pytest.approx(1.0) and cosine(110) == pytest.approx(0.1)
    assert cosine(60) == pytest.approx(0.1 + 0.9 * 0.5)
    poly = lr_factor(OptimConfig(schedule="poly", poly_power=1.0), 100)
    assert poly(50) == pytest.approx(0.5) and poly(200) == pytest.approx(0.0)
    constant = lr_factor(OptimConfig(schedule="constant"), 100)
    assert constant(0) == constant(99) == 1.0
    assert math.isclose(lr_factor(OptimConfig(), 2**62)(1000), 1.0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"schedule": "step"}, "optim.schedule"),
        ({"lr": 0}, "optim.lr"),
        ({"min_lr_ratio": 2}, "min_lr_ratio"),
    ],
)
def test_bad_optim(options, match):
    with pytest.raises(ConfigError, match=match):
        OptimConfig(**options)


def test_unknown_network_option():
    with pytest.raises(ConfigError, match=r"model\.network"):
        TeacherModule(network={"layers": 3})
