"""Training and scoring one run of the study into its record.

Checkpoints live in the work folder (never in git): a fold's teacher and every student compared
with it are trained on one machine. A student's record names its teacher (the first 12 hex
digits of the teacher checkpoint's SHA-256), and paired differences only pair runs that share
a teacher, so they never mix machines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from PIL import Image

from hicd.data import BitemporalDataset
from hicd.evaluation import evaluate_checkpoints
from hicd.inference.engine import cache_dir, cache_key
from hicd.models.pretrained import require_backbone_weights
from hicd.training.config import NetworkConfig, OptimConfig
from hicd.training.data import ChangeDataModule
from hicd.training.runs import fit_best, fit_student
from hicd.training.teacher import TeacherModule

from . import records
from .configs import Budget, Regime, label_hash, resolve, unlabelled_bn, uses_unlabelled
from .folds import UNLABELLED_SOURCES, Fold, build_unlabelled

CELL = 256
"""Side of the cells whose confusion counts the records keep."""
SPLITS = ("val", "test", "crops")


def checkpoint_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def trained(path: Path) -> tuple[int, dict[str, Any]]:
    """A checkpoint's step (the one chosen on validation) and its hyperparameters, in one load."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return int(saved["global_step"]), saved["hyper_parameters"]


def data_module(
    root: Path, fold: Fold, budget: Budget, unlabelled: Path | None = None
) -> ChangeDataModule:
    return ChangeDataModule(
        kind="generic",
        root=str(root),
        train_split=fold.split("train"),
        val_split=fold.split("val"),
        test_split=fold.split("test"),
        crop_size=budget.crop,
        batch_size=budget.batch,
        num_workers=0,
        eval_tile=budget.eval_tile,
        cache_images=True,
        unlabelled_root=None if unlabelled is None else str(unlabelled),
    )


def score(
    checkpoint: Path, root: Path, fold: Fold, settings: list[str], budget: Budget
) -> dict[str, dict[str, dict[str, list[list[int]]]]]:
    """split → setting → image → cell counts of one checkpoint (every split of the fold)."""
    scores: dict[str, dict[str, Any]] = {}
    for role in SPLITS:
        if not fold.roles[role]:
            continue
        split = fold.split(role)
        pairs = BitemporalDataset(root, split).pairs
        rows = evaluate_checkpoints(
            [checkpoint], root, split=split, settings=",".join(settings), tile=budget.eval_tile,
            overlap=budget.eval_overlap, seed=0, examples=0, progress=False, cell=CELL,
        )  # fmt: skip
        scores[role] = {}
        for row in rows:
            cells, by_image, start = row["cells"], {}, 0
            for pair in pairs:
                width, height = Image.open(pair.label).size
                count = -(-height // CELL) * -(-width // CELL)
                by_image[pair.name] = cells[start : start + count]
                start += count
            if start != len(cells):
                raise RuntimeError(f"{split}: {len(cells)} cells for {start} expected")
            scores[role][row["setting"]] = by_image
    # the ONNX graph exported for scoring is never used again: keep the cache small
    (cache_dir() / f"{cache_key(checkpoint)}.onnx").unlink(missing_ok=True)
    return scores


def _base(fold: Fold, seed: int, budget: Budget, budget_name: str) -> dict:
    return {
        "dataset": fold.dataset, "fold": fold.name, "seed": seed, "budget_name": budget_name,
        "budget": dataclasses.asdict(budget), "commit": records.commit(),
        "machine": records.machine(),
    }  # fmt: skip


def train_teacher(
    work: Path, root: Path, fold: Fold, seed: int, budget: Budget, budget_name: str,
    settings: list[str], callbacks: Sequence[pl.Callback] = (),
) -> tuple[dict, Path]:  # fmt: skip
    """Train a fold's teacher on clean pairs; return its record and checkpoint."""
    folder = work / "runs" / fold.dataset / fold.name / budget_name / f"teacher-s{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    pl.seed_everything(seed, workers=True, verbose=False)
    network = NetworkConfig(
        pretrained=str(require_backbone_weights()), options={"decoder_channels": 64}
    )
    optim = OptimConfig(lr=budget.teacher_lr, schedule="cosine", warmup_steps=20)
    module = TeacherModule(
        network=network, optim=optim, crop_size=budget.crop, eval_tile=budget.eval_tile,
        eval_overlap=budget.eval_overlap,
    )  # fmt: skip
    checkpoint = fit_best(
        module, data_module(root, fold, budget), budget.teacher_steps, folder, budget.val_every,
        False, budget.ema_decay, callbacks,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    scores = score(checkpoint, root, fold, ["clean", *settings], budget)
    record = {
        **_base(fold, seed, budget, budget_name), "role": "teacher",
        "id": checkpoint_id(checkpoint), "steps": budget.teacher_steps,
        "chosen_step": trained(checkpoint)[0], "seconds": round(seconds, 1),
        "score_seconds": round(time.perf_counter() - started, 1), "finished": records.now(),
        "scores": scores,
    }  # fmt: skip
    return record, checkpoint


def train_student(
    work: Path, root: Path, fold: Fold, teacher: dict, teacher_checkpoint: Path,
    recipe: tuple[str, Regime], setting: str, label: str, seed: int, budget: Budget,
    budget_name: str, callbacks: Sequence[pl.Callback] = (),
) -> dict:  # fmt: skip
    """Train one student of a fold against its teacher and return its record (the student's
    checkpoint is deleted: students are never reused, so the work folder stays small)."""
    config = resolve(label)
    key = label_hash(label)
    unlabelled = build_unlabelled(work / "data" / "unlabelled") if uses_unlabelled(label) else None
    name, regime = recipe
    folder = (
        work / "runs" / fold.dataset / fold.name / budget_name
        / f"{name}-{setting}-{key}-s{seed}-t{teacher['id']}"
    )  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    optim = OptimConfig(lr=regime.lr, schedule="cosine", warmup_steps=regime.lr_warmup)
    checkpoint = fit_student(
        teacher_checkpoint, config, setting, data_module(root, fold, budget, unlabelled), optim, regime.steps,
        folder, seed=seed + 1, init_from_teacher=regime.from_teacher, crop_size=budget.crop,
        eval_tile=budget.eval_tile, eval_overlap=budget.eval_overlap, val_every=budget.val_every, progress=False,
        ema_decay=budget.ema_decay, callbacks=callbacks, unlabelled_bn=unlabelled_bn(label),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    scores = score(checkpoint, root, fold, [setting], budget)
    step, hyper_parameters = trained(checkpoint)
    record = {
        **_base(fold, seed, budget, budget_name), "role": "student", "regime": name,
        "regime_budget": dataclasses.asdict(regime), "setting": setting, "label": label,
        "config": dataclasses.asdict(config), "config_hash": key,
        "unlabelled": None if unlabelled is None else UNLABELLED_SOURCES,
        **({} if unlabelled is None else {"unlabelled_bn": hyper_parameters["unlabelled_bn"]}),
        "teacher": teacher["id"],
        "steps": regime.steps, "chosen_step": step,
        "seconds": round(seconds, 1), "score_seconds": round(time.perf_counter() - started, 1),
        "finished": records.now(), "scores": scores,
    }  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    return record
