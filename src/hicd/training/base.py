"""What teacher and student modules share: evaluation, metrics, optimiser and checkpoint metadata."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from lightning.pytorch import LightningModule
from torch import Tensor, nn
from torchmetrics import MeanMetric

from hicd.data import IGNORE_INDEX
from hicd.data.tiling import Tiling
from hicd.errors import ConfigError
from hicd.evaluation import ChangeMetrics
from hicd.inference.tiled import predict_change_probability
from hicd.models import ChangeDetectionModel
from hicd.models.checkpoint import METADATA_KEY, CheckpointInfo
from hicd.models.losses import TaskLossConfig, change_detection_loss
from hicd.training.config import OptimConfig, as_config
from hicd.training.optim import configure_adamw

Batch = dict[str, Any]
STAGES = ("val", "test")


class ChangeModule(LightningModule):
    """Base of :class:`TeacherModule` and :class:`StudentModule`.

    The predictive network is ``self.model`` (its weights are saved under ``model.``).
    Validation and test run it on whole images by the tiling engine of ``hicd evaluate`` and
    ``hicd predict`` (:func:`hicd.inference.tiled.predict_change_probability`: ``eval_tile``
    windows overlapping by ``eval_overlap`` (default: the rule of ``Tiling.resolve``), blended probabilities, change where the
    probability exceeds ``hicd.defaults.THRESHOLD``) and log the change-class metrics of the whole set (``val/f1``, ``val/iou``, ``val/precision``,
    ``val/recall``, ``val/oa``, ``val/kappa``; ``test/...``) from one confusion matrix,
    summed over all processes under DDP.

    Args:
        optim: optimiser and learning-rate schedule.
        crop_size: training crop size, stored in checkpoints as the prediction tile (the CLI
            links it to ``data.crop_size``).
        eval_tile: window side for validation/test (the CLI links it to ``data.eval_tile``);
            None runs each whole image at once.
        eval_overlap: overlap of those windows (None: ``hicd.defaults.overlap_for``).
        loss: the change-detection loss L_CD on labelled training pairs (``model.loss``,
            teacher and student alike; see :meth:`task_terms`).
    """

    role = "teacher"
    model: ChangeDetectionModel

    def __init__(
        self,
        optim: OptimConfig | None = None,
        crop_size: int | None = None,
        eval_tile: int | None = None,
        loss: TaskLossConfig | None = None,
        eval_overlap: int | None = None,
    ) -> None:
        super().__init__()
        self.optim = as_config(OptimConfig, optim, "model.optim")
        self.task_loss = as_config(TaskLossConfig, loss, "model.loss")
        self.crop_size = crop_size
        self.eval_tile = eval_tile
        self.eval_overlap = eval_overlap
        # Accumulated over the whole set and summed over processes in compute().
        self.metrics = nn.ModuleDict({stage: ChangeMetrics() for stage in STAGES})
        self.losses = nn.ModuleDict({stage: MeanMetric() for stage in STAGES})

    # -- hyperparameters ---------------------------------------------------------------------

    def _save_plain_hyperparameters(self) -> None:
        """``save_hyperparameters`` with option groups stored as plain dicts (checkpoints then
        load with ``torch.load(weights_only=True)``)."""
        self.save_hyperparameters(frame=inspect.currentframe().f_back)
        for key, value in self.hparams.items():
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                self.hparams[key] = dataclasses.asdict(value)
        self._hparams_initial = copy.deepcopy(self._hparams)

    # -- what subclasses provide --------------------------------------------------------------

    def eval_pair(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The two images the network sees in validation and test."""
        return batch["t1"], batch["t2"]

    def trainable_parameters(self) -> Iterable[nn.Parameter]:
        """What the optimiser updates."""
        return self.model.parameters()

    def checkpoint_info(self) -> CheckpointInfo:
        """The ``hicd`` metadata written into every checkpoint."""
        raise NotImplementedError

    @classmethod
    def run_name(cls, init_args: Mapping[str, Any]) -> str:
        """Folder name of a run with these init arguments (default run folder of the CLI)."""
        return cls.role

    def check_unlabelled(self) -> None:
        """Called when training with ``data.unlabelled_root``: raise ``ConfigError`` unless this
        module can learn from unlabelled pairs (a teacher cannot: it learns from labels)."""
        raise ConfigError(
            f"data.unlabelled_root: a {self.role} learns from labels alone; unlabelled pairs "
            "train students by distillation (leave data.unlabelled_root out)"
        )

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if stage == "fit" and getattr(datamodule, "unlabelled_root", None) is not None:
            self.check_unlabelled()

    # -- the task loss ------------------------------------------------------------------------

    def task_terms(self, logits: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """L_CD of labelled training pairs: ``"cd"`` (the weighted total, to back-propagate)
        and its parts (``"cd/ce"``, ``"cd/dice"``), the same for teacher and student (whose
        distillation terms the Distiller adds)."""
        return self.task_loss(logits, mask)

    # -- logging helpers ----------------------------------------------------------------------

    def log_loss(self, loss: Tensor, terms: Mapping[str, Tensor], batch_size: int) -> None:
        """Log the total as ``train/loss`` (on the progress bar) and each term as
        ``train/<name>``, averaged over processes under DDP (each sees its own batch)."""
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=batch_size, sync_dist=True)
        values = {f"train/{name}": value.detach() for name, value in terms.items()}
        self.log_dict(values, batch_size=batch_size, sync_dist=True)

    # -- evaluation -----------------------------------------------------------------------------

    def eval_tiling(self, height: int, width: int) -> Tiling:
        """Windows of validation and test: ``eval_tile`` (None: the whole image) overlapping by
        ``eval_overlap`` (None: the rule of ``Tiling.resolve``)."""
        return Tiling.resolve(self.eval_tile or max(height, width), self.eval_overlap)

    def forward(self, t1: Tensor, t2: Tensor) -> Tensor:
        """B×H×W change probability of whole images (blended ``eval_tiling`` windows)."""
        tiling = self.eval_tiling(*t1.shape[-2:])
        return predict_change_probability(self.model, t1, t2, tiling.tile, tiling.overlap)

    def _eval_step(self, batch: Batch, stage: str) -> None:
        probability = self(*self.eval_pair(batch))
        mask = batch["mask"]
        valid = int((mask != IGNORE_INDEX).sum())
        loss = change_detection_loss(_probability_logits(probability), mask)["cd"]
        self.losses[stage].update(loss, weight=max(valid, 1))
        self.metrics[stage].update(probability, mask)  # change where probability > THRESHOLD

    def _log_metrics(self, stage: str) -> None:
        # compute() sums the states over all processes first, so every process logs the same
        # global scores (sync_dist then averages equal values).
        scores = {f"{stage}/{k}": v.float() for k, v in self.metrics[stage].compute().items()}
        scores[f"{stage}/loss"] = self.losses[stage].compute().float()
        for metric in (self.metrics[stage], self.losses[stage]):
            metric.reset()
        self.log(f"{stage}/f1", scores.pop(f"{stage}/f1"), prog_bar=True, sync_dist=True)
        self.log_dict(scores, sync_dist=True)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    # -- optimisation and checkpoints ---------------------------------------------------------

    def configure_optimizers(self) -> dict[str, Any]:
        steps = self.trainer.estimated_stepping_batches
        total = int(steps) if math.isfinite(steps) else 2**62
        return configure_adamw(self.trainable_parameters(), self.optim, total)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[METADATA_KEY] = self.checkpoint_info().to_dict()


def _probability_logits(probability: Tensor) -> Tensor:
    """B×2×H×W logits whose softmax is (1 - p, p): the loss of blended probabilities."""
    pair = torch.stack([1 - probability, probability], dim=1)
    return pair.clamp_min(torch.finfo(pair.dtype).tiny).log()


def batch_size_of(batch: Batch) -> int:
    """Number of samples in a batch dict."""
    return int(batch["mask"].shape[0])
