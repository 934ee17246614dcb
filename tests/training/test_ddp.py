"""`hicd fit` with DDP on two CPU processes (gloo): the validation metrics logged by the
2-process run equal those of one process validating the saved weights, the student trains under
DDP with the teacher's recalibrated BatchNorm statistics pooled over processes, and
`--ckpt_path last` resumes the run."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from hicd.cli.lightning import run_lightning_cli
from hicd.data.synthetic import SyntheticChangeDataset
from hicd.models.checkpoint import load_model

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[2] / "src"
METRICS = ("f1", "precision", "recall", "iou", "oa", "kappa", "loss")
# 3 validation images on 2 processes: 2 + 1, each scored once (a padded sampler would score one
# twice and change every count).
DATA = {
    "synthetic": {"train": 4, "val": 3, "test": 2, "size": 64, "seed": 0},
    "crop_size": 64,
    "batch_size": 2,
    "eval_batch_size": 2,
    "num_workers": 0,
}
TRAINER = {
    "accelerator": "cpu",
    "max_steps": 2,
    "num_sanity_val_steps": 0,
    "enable_model_summary": False,
    "enable_progress_bar": False,
    "log_every_n_steps": 1,
}
TINY_NETWORK = {
    "model": {"init_args": {"network": {"pretrained": None, "options": {"decoder_channels": 16}}}}
}
DDP = ["--trainer.strategy", "ddp", "--trainer.devices", "2"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fit_ddp(argv: list[str], cwd: Path) -> None:
    """``python -m hicd.cli.main fit ARGV`` with DDP on 2 CPU processes (Lightning starts the
    second by re-running the same command)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")])),
        OMP_NUM_THREADS="1",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(free_port()),
        PYTHONWARNINGS="ignore",
    )
    command = [sys.executable, "-m", "hicd.cli.main", "fit", *argv, *DDP]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def validate_one_process(argv: list[str], checkpoint: Path, root: Path) -> dict[str, float]:
    """``hicd validate`` of ``checkpoint`` in this process (1 device): the logged metrics."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cli = run_lightning_cli(
            [
                "validate", *argv,
                "--trainer.devices", "1",
                "--trainer.logger", "false",
                "--trainer.default_root_dir", str(root),
                "--ckpt_path", str(checkpoint),
            ]
        )  # fmt: skip
    return {name: float(cli.trainer.callback_metrics[f"val/{name}"]) for name in METRICS}


def validation_rows(run: Path, version: int = 0) -> list[dict[str, float]]:
    with (run / f"version_{version}" / "metrics.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["val/f1"]]
    return [
        {"step": int(row["step"]), **{m: float(row[f"val/{m}"]) for m in METRICS}} for row in rows
    ]


def assert_same_metrics(logged: dict[str, float], validated: dict[str, float]) -> None:
    for name in METRICS:
        assert validated[name] == pytest.approx(logged[name], rel=1e-5, abs=1e-7), name


def assert_validation_matches_one_process(run: Path, argv: list[str], tmp: Path) -> list[dict]:
    """The last validation logged by the DDP run equals one process validating last.ckpt, and
    best.ckpt's recorded best score equals one process validating best.ckpt."""
    rows = validation_rows(run)
    assert len(rows) == 2  # one validation per epoch of 1 step per process
    last = validate_one_process(argv, run / "checkpoints" / "last.ckpt", tmp / "validate_last")
    assert_same_metrics(rows[-1], last)

    best_checkpoint = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    (state,) = [s for key, s in best_checkpoint["callbacks"].items() if "'val/f1'" in key]
    best = validate_one_process(argv, run / "checkpoints" / "best.ckpt", tmp / "validate_best")
    assert best["f1"] == pytest.approx(float(state["best_model_score"]), rel=1e-6)
    return rows


def versions(run: Path) -> set[str]:
    return {path.name for path in run.glob("version_*")}


def predicting_change(source: Path, target: Path) -> Path:
    """A copy of the teacher checkpoint ``source`` whose last-layer bias makes it call about a
    third of the validation pixels change (a teacher fitted for 2 steps calls none, so the
    student's validation F1 would be 0 whatever happened)."""
    model, _ = load_model(source)
    images = SyntheticChangeDataset(9, 64, 0)
    with torch.no_grad():
        margins = torch.cat(
            [
                (lambda logits: logits[:, 1] - logits[:, 0])(
                    model(images[i]["t1"][None], images[i]["t2"][None]).logits
                ).flatten()
                for i in range(4, 7)
            ]
        )
    checkpoint = torch.load(source, weights_only=True)
    checkpoint["state_dict"]["model.head.1.bias"][1] -= float(margins.quantile(0.67))
    torch.save(checkpoint, target)
    return target


def test_ddp_teacher_and_student_match_one_process_and_resume(tmp_path, configs):
    overlay = tmp_path / "tiny.yaml"
    overlay.write_text(yaml.safe_dump({"trainer": TRAINER, "data": DATA}))
    tiny_network = tmp_path / "tiny_network.yaml"
    tiny_network.write_text(yaml.safe_dump(TINY_NETWORK))

    # Stage 1 on 2 processes.
    teacher = tmp_path / "teacher"
    teacher_argv = [
        "--config", str(configs / "synthetic" / "teacher.yaml"),
        "--config", str(overlay),
        "--config", str(tiny_network),
        "--trainer.default_root_dir", str(teacher),
    ]  # fmt: skip
    fit_ddp(teacher_argv, tmp_path)
    assert versions(teacher) == {"version_0"}  # both processes chose the same run folder
    assert not (tmp_path / "lightning_logs").exists()
    assert torch.load(teacher / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2
    assert_validation_matches_one_process(teacher, teacher_argv, tmp_path / "teacher_check")

    # Stage 2 on 2 processes, from a teacher that calls some pixels change, with the teacher's
    # BatchNorm statistics re-estimated on 1 batch per process.
    start = predicting_change(teacher / "checkpoints" / "best.ckpt", tmp_path / "start.ckpt")
    student = tmp_path / "student"
    student_argv = [
        "--config", str(configs / "synthetic" / "student_hicd.yaml"),
        "--config", str(overlay),
        "--model.init_args.teacher_checkpoint", str(start),
        "--model.init_args.init_from_teacher", "true",
        "--model.init_args.distillation.teacher_bn", "recalibrate",
        "--model.init_args.distillation.recalibrate_batches", "1",
        "--model.init_args.optim.lr", "1e-4",
        "--trainer.default_root_dir", str(student),
    ]  # fmt: skip
    fit_ddp(student_argv, tmp_path)
    rows = assert_validation_matches_one_process(student, student_argv, tmp_path / "student_check")
    assert 0 < rows[-1]["f1"] < 1 and 0 < rows[-1]["precision"] < 1
    first = torch.load(student / "checkpoints" / "last.ckpt", weights_only=True)
    assert first["global_step"] == 2
    assert first["hicd"]["extra"]["teacher_bn_batches"] == 2  # 1 batch on each process

    # Resume the DDP run from checkpoints/last.ckpt for 2 more steps.
    fit_ddp([*student_argv, "--ckpt_path", "last", "--trainer.max_steps", "4"], tmp_path)
    assert versions(student) == {"version_0", "version_1"}
    resumed = torch.load(student / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 4
    before, after = validation_rows(student, 0), validation_rows(student, 1)
    assert len(after) == 2 and min(r["step"] for r in after) > max(r["step"] for r in before)
