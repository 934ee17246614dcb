"""Batch-norm consistency: a student holding the teacher's own weights, given the clean pair
through the normal stage-2 path (a Lightning fit of ``StudentModule``), must see distillation
terms of about zero, even when the teacher's running statistics come from other data."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from hicd.data.synthetic import SyntheticChangeDataset
from hicd.distillation import DistillationConfig
from hicd.models import create_model
from hicd.models.checkpoint import CheckpointInfo, load_model, save_model_checkpoint
from hicd.training import StudentModule
from hicd.training.data import ChangeDataModule


@pytest.fixture(scope="module")
def foreign_teacher(tmp_path_factory, mobilenet_weights) -> Path:
    """An ImageNet-initialised siam_fpn whose running statistics were estimated on synthetic
    scenes (other data than the real crops the student trains on)."""
    torch.manual_seed(0)
    model = create_model("siam_fpn", pretrained=str(mobilenet_weights), decoder_channels=32)
    scenes = SyntheticChangeDataset(8, size=128, seed=3)
    model.train()
    with torch.no_grad():
        for start in range(0, 8, 4):
            items = [scenes[i] for i in range(start, start + 4)]
            model(torch.stack([s["t1"] for s in items]), torch.stack([s["t2"] for s in items]))
    path = tmp_path_factory.mktemp("teacher") / "teacher.ckpt"
    return save_model_checkpoint(path, model.eval(), CheckpointInfo(dict(model.config)))


def _terms_at_first_step(teacher: Path, data_root: Path, teacher_bn: str) -> dict[str, float]:
    """The distillation terms of the first training step of a teacher-initialised student on
    clean pairs (``hicd fit``'s path: Trainer → on_train_start → batch transfer → step)."""
    pl.seed_everything(0, verbose=False)
    module = StudentModule(
        str(teacher),
        init_from_teacher=True,
        distillation=DistillationConfig(teacher_bn=teacher_bn, recalibrate_batches=4),
        degradation="clean",
        crop_size=128,
    )
    seen: dict[str, float] = {}

    def record(distiller, inputs, output) -> None:
        if not seen:
            seen.update({k: float(v) for k, v in output.terms.items() if k[:3] in ("sfd", "cfd")})

    module.distiller.register_forward_hook(record)
    data = ChangeDataModule(
        kind="generic",
        root=str(data_root),
        train_split="all",
        val_split="all",
        crop_size=128,
        batch_size=4,
        num_workers=0,
    )
    trainer = pl.Trainer(
        max_steps=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, datamodule=data)
    assert module.checkpoint_info().extra["teacher_bn"] == teacher_bn
    values = list(seen.values())
    print(f"teacher_bn={teacher_bn}: distillation terms {min(values):.3g}–{max(values):.3g}")
    return seen


def test_teacher_and_identical_student_agree_on_clean_pairs(foreign_teacher, shared_data):
    levir = shared_data / "levir-cd-256"
    without = _terms_at_first_step(foreign_teacher, levir, "running")
    default = DistillationConfig().teacher_bn
    with_mechanism = _terms_at_first_step(foreign_teacher, levir, default)
    assert set(with_mechanism) == set(without) and without
    # The mismatch the mechanism removes is real: running statistics from other data.
    assert max(without.values()) > 0.02
    for name, value in with_mechanism.items():
        assert value < 0.02, name
        assert value * 10 <= without[name], (name, value, without[name])


def test_recalibration_re_estimates_running_statistics(foreign_teacher, shared_data):
    levir = shared_data / "levir-cd-256"
    running = _terms_at_first_step(foreign_teacher, levir, "running")
    recalibrated = _terms_at_first_step(foreign_teacher, levir, "recalibrate")
    assert sum(recalibrated.values()) < sum(running.values()) / 2
    teacher, _ = load_model(foreign_teacher)
    assert teacher.training is False  # the file on disk is untouched by recalibration
