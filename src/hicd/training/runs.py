"""Programmatic training runs (the demo and the benchmarks): fit for a step budget, keep the
checkpoint that is best on validation F1, and publish it under a stable name."""

from __future__ import annotations

import logging
import shutil
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EMAWeightAveraging, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger

from hicd.atomic import atomic_path
from hicd.distillation import DistillationConfig
from hicd.training.checkpointing import checkpoint_callback
from hicd.training.config import OptimConfig
from hicd.training.quiet import expected_warnings_ignored
from hicd.training.student import StudentModule


def fit_best(
    module: pl.LightningModule,
    data: pl.LightningDataModule,
    steps: int,
    run: Path,
    val_every: int = 50,
    progress: bool = True,
    ema_decay: float | None = None,
    callbacks: Sequence[pl.Callback] = (),
) -> Path:
    """Train ``module`` for ``steps`` optimiser steps, validating every ``val_every`` steps;
    return the checkpoint with the best ``val/f1`` (chosen on validation data only).

    ``ema_decay`` keeps an exponential moving average of the weights (and BatchNorm
    statistics) with Lightning's ``EMAWeightAveraging``; validation and the saved checkpoints
    then use the averaged weights. ``callbacks`` run after the EMA update and before the
    checkpoint (Lightning runs ``ModelCheckpoint`` last).
    """
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    checkpoint = checkpoint_callback(run, "best")
    own: list[pl.Callback] = [checkpoint]
    if ema_decay is not None:
        own.append(EMAWeightAveraging(decay=ema_decay))
    if progress:  # Lightning's rich bar would show "Epoch 1/-2" for a run bounded by steps
        own.append(TQDMProgressBar())
    trainer = pl.Trainer(
        max_steps=steps,
        val_check_interval=min(val_every, steps),
        check_val_every_n_epoch=None,
        callbacks=[*own, *callbacks],
        logger=CSVLogger(run, name="logs"),
        accelerator="auto",
        devices=1,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=progress,
        log_every_n_steps=10,
    )
    with expected_warnings_ignored(), interrupts_propagated():
        trainer.fit(module, datamodule=data)
    return Path(checkpoint.best_model_path)


@contextmanager
def interrupts_propagated() -> Iterator[None]:
    """Re-raise a Ctrl-C or SIGTERM during ``trainer.fit`` instead of Lightning's exit code 1,
    and restore the SIGINT handler Lightning leaves ignored after its graceful shutdown."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main_thread else None
    try:
        yield
    except SystemExit as exit:
        if isinstance(exit.__context__, KeyboardInterrupt):
            raise exit.__context__ from None
        raise
    finally:
        if main_thread and previous is not None:
            signal.signal(signal.SIGINT, previous)


def fit_student(
    teacher_checkpoint: Path,
    distillation: DistillationConfig,
    degradation: str,
    data: pl.LightningDataModule,
    optim: OptimConfig,
    steps: int,
    run: Path,
    *,
    seed: int,
    degradation_seed: int = 0,
    init_from_teacher: bool = False,
    crop_size: int | None = None,
    eval_tile: int | None = None,
    eval_overlap: int | None = None,
    val_every: int = 50,
    progress: bool = True,
    ema_decay: float | None = None,
    callbacks: Sequence[pl.Callback] = (),
    unlabelled_bn: Literal["batch", "update"] = "batch",
) -> Path:
    """Seed, build a ``StudentModule`` on ``teacher_checkpoint`` and ``fit_best`` it."""
    pl.seed_everything(seed, workers=True, verbose=False)
    student = StudentModule(
        teacher_checkpoint=str(teacher_checkpoint),
        distillation=distillation,
        degradation=degradation,
        degradation_seed=degradation_seed,
        init_from_teacher=init_from_teacher,
        optim=optim,
        crop_size=crop_size,
        eval_tile=eval_tile,
        eval_overlap=eval_overlap,
        unlabelled_bn=unlabelled_bn,
    )
    return fit_best(student, data, steps, run, val_every, progress, ema_decay, callbacks)


def publish_checkpoint(source: Path, target: Path) -> Path:
    """Copy a checkpoint to ``target`` atomically."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target
