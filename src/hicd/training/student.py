"""Stage 2: the student, distilled from a frozen teacher on pairs with one degraded date."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.seed import isolate_rng
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from hicd.defaults import SETTING
from hicd.degradations import DATES, DegradationSetting, Degrader
from hicd.distillation import METHODS, DistillationConfig, DistillationOutput, Distiller
from hicd.distillation.batchnorm import batch_statistics, recalibrate_batchnorm
from hicd.errors import ConfigError, check_choice
from hicd.models import ChangeDetectionModel
from hicd.models.checkpoint import CheckpointInfo, load_model
from hicd.models.encoders import IMAGENET
from hicd.models.losses import TaskLossConfig
from hicd.training.base import Batch, ChangeModule, batch_size_of
from hicd.training.config import NetworkConfig, OptimConfig, as_config, check_path
from hicd.training.data import LABELLED, UNLABELLED

UNLABELLED_BN_MODES = ("batch", "update")
"""How the student's BatchNorm layers treat unlabelled batches (``unlabelled_bn``)."""


class StudentModule(ChangeModule):
    """A student trained on degraded pairs, guided by a frozen teacher on the clean pairs.

    Each training batch arrives clean; :meth:`on_after_batch_transfer` (on the GPU when there is
    one) adds ``student_t1``/``student_t2``: the same crop with one date degraded by
    ``degradation`` with fresh random parameters per sample (the date: the setting's own, e.g.
    ``resolution-x4@t1``, else ``degraded_date``; ``mixed`` draws it per sample). The teacher sees ``t1``/``t2``.
    With ``data.unlabelled_root`` a training batch is ``{"labelled": ..., "unlabelled": ...}``:
    both parts are degraded alike; the labelled one trains as above (L_CD + scale·distillation),
    the unlabelled one adds ``unlabelled_weight·scale·distillation`` with no task loss (its
    terms are logged as ``train/unlabelled/<term>``); by default it leaves the student's BatchNorm
    running statistics to the labelled imagery (``unlabelled_bn``).
    Validation and test degrade the whole images deterministically (``degradation_seed`` and
    the image names), so every epoch scores the same inputs. Degraded images are rounded to the
    batch's ``levels`` (the source's integer levels), exactly as ``hicd evaluate`` and
    ``hicd degrade`` make them. With ``distillation.teacher_bn == "recalibrate"`` the teacher's
    BatchNorm statistics are re-estimated on clean training batches when training starts.

    Args:
        teacher_checkpoint: the stage-1 checkpoint (any file ``load_model`` reads). It is
            re-loaded from this path whenever the module is built, e.g. when a run is resumed;
            student checkpoints never contain the teacher's weights.
        network: the student's architecture and pretrained backbone; None: the teacher's
            architecture and the backbone file recorded in the teacher checkpoint.
        init_from_teacher: start from the teacher's weights instead of the pretrained backbone.
        distillation: the distillation method and its weights.
        degradation: the quality-difference setting, e.g. ``multi-x4``, ``resolution-x8``,
            ``single-gaussian_blur-s3``, ``mixed`` (the universal student).
        degraded_date: the date that is degraded (``t1`` or ``t2``) when the setting names
            none; ``mixed`` draws it per sample and the checkpoint records ``either``.
        degradation_seed: seed of the deterministic validation/test degradation.
        optim: AdamW and its learning-rate schedule (over the student and any adapters).
        loss: the change-detection loss L_CD on the degraded pairs.
        crop_size: training crop size (set by the CLI from ``data.crop_size``).
        eval_tile: validation/test window (set by the CLI from ``data.eval_tile``).
        eval_overlap: overlap of those windows (None: the default rule).
        unlabelled_weight: factor of the unlabelled batches' loss (with ``data.unlabelled_root``).
        unlabelled_bn: how the student's BatchNorm layers treat unlabelled batches: ``batch``
            (normalise with the batch's statistics as in any training step, but leave the
            running statistics, which inference uses, to the labelled imagery) or ``update``
            (also update the running statistics; imagery from another domain then shifts
            them).
    """

    role = "student"

    def __init__(
        self,
        teacher_checkpoint: str | None = None,
        network: NetworkConfig | None = None,
        init_from_teacher: bool = False,
        distillation: DistillationConfig | None = None,
        degradation: str = SETTING,
        degraded_date: Literal["t1", "t2"] = "t2",
        degradation_seed: int = 0,
        optim: OptimConfig | None = None,
        loss: TaskLossConfig | None = None,
        crop_size: int | None = None,
        eval_tile: int | None = None,
        unlabelled_weight: float = 1.0,
        eval_overlap: int | None = None,
        unlabelled_bn: Literal["batch", "update"] = "batch",
    ) -> None:
        super().__init__(optim, crop_size, eval_tile, loss, eval_overlap)
        self._save_plain_hyperparameters()
        check_choice(degraded_date, DATES, "model.degraded_date")
        if not unlabelled_weight >= 0:
            raise ConfigError(f"model.unlabelled_weight: must be >= 0, got {unlabelled_weight}")
        self.unlabelled_weight = float(unlabelled_weight)
        self.unlabelled_bn = check_choice(unlabelled_bn, UNLABELLED_BN_MODES, "model.unlabelled_bn")
        self.distillation = as_config(DistillationConfig, distillation, "model.distillation")
        self.setting = DegradationSetting.parse(degradation)
        self.degraded_date = degraded_date
        self.teacher_checkpoint = teacher_checkpoint
        self.init_from_teacher = init_from_teacher

        needs_teacher = METHODS[self.distillation.method].needs_teacher
        teacher, info = self._load_teacher(needs_teacher or network is None or init_from_teacher)
        if network is None:
            self.network = NetworkConfig.from_model_config(
                info.model_config, info.extra.get("pretrained")
            )
            if self.network.pretrained != IMAGENET:
                check_path(
                    "model.init_args.network.pretrained",
                    self.network.pretrained,
                    f"; the teacher {teacher_checkpoint} records these backbone weights: give "
                    "their current path, or null",
                )
            if self.network.pretrained is None and not init_from_teacher:
                rank_zero_warn(
                    f"{teacher_checkpoint}: records no pretrained backbone, so a new student "
                    "starts from random weights (set model.network.pretrained to choose one)"
                )
        else:
            self.network = as_config(NetworkConfig, network, "model.network")
        self.model = self.network.build()
        if init_from_teacher:
            self._copy_teacher(teacher)
        self.distiller = Distiller(
            self.model,
            teacher if needs_teacher else None,
            self.distillation,
            student_config=self.model.config,
        )
        self.train_degrader = Degrader(self.setting, seed=None)
        self.recalibrated_batches = 0
        self.eval_degrader = Degrader(self.setting, seed=degradation_seed)

    def _load_teacher(self, required: bool) -> tuple[ChangeDetectionModel | None, Any]:
        if self.teacher_checkpoint is None:
            if required:
                raise ConfigError(
                    "model.teacher_checkpoint: needed (distillation method "
                    f"{self.distillation.method!r}, network taken from the teacher, or "
                    "init_from_teacher); give the stage-1 checkpoint"
                )
            return None, None
        return load_model(Path(self.teacher_checkpoint))

    def _copy_teacher(self, teacher: nn.Module) -> None:
        try:
            self.model.load_state_dict(teacher.state_dict())
        except RuntimeError as error:
            raise ConfigError(
                f"model.init_from_teacher: the teacher {self.teacher_checkpoint} does not fit "
                f"the student network ({error})"
            ) from error

    @classmethod
    def run_name(cls, init_args: Mapping[str, Any]) -> str:
        method = (init_args.get("distillation") or {}).get("method", DistillationConfig.method)
        setting = DegradationSetting.parse(init_args.get("degradation") or SETTING)
        return f"student-{method}-{setting.name}"

    # -- the quality difference, made on the fly ----------------------------------------------

    def degrade(self, batch: Batch) -> Batch:
        """Add ``student_t1``/``student_t2`` (one date degraded) and ``degradation``.

        In training mode the parameters (and ``mixed``'s dates) are random per sample; in eval
        mode they are fixed by ``degradation_seed`` and the sample names.
        """
        options = {"levels": batch.get("levels"), "date": self.degraded_date}
        with torch.no_grad():
            if self.training:
                t1, t2, records = self.train_degrader.pair(batch["t1"], batch["t2"], **options)
            else:
                names = list(batch["name"])
                t1, t2, records = self.eval_degrader.pair(
                    batch["t1"], batch["t2"], names=names, **options
                )
        return {**batch, "student_t1": t1, "student_t2": t2, "degradation": records}

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        if UNLABELLED in batch:  # {"labelled": ..., "unlabelled": ...}: degrade both alike
            return {part: self.degrade(pairs) for part, pairs in batch.items()}
        return self.degrade(batch)

    def check_unlabelled(self) -> None:
        if not METHODS[self.distillation.method].needs_teacher:
            raise ConfigError(
                "data.unlabelled_root needs a distillation method; method "
                f"{self.distillation.method!r} has no label-free term"
            )

    # -- steps --------------------------------------------------------------------------------

    def on_train_start(self) -> None:
        if self.distiller.teacher is not None and self.distillation.teacher_bn == "recalibrate":
            self.recalibrated_batches = self._recalibrate_teacher()

    def _recalibrate_teacher(self) -> int:
        """Re-estimate the teacher's BatchNorm statistics on clean training batches (the random
        state is restored afterwards, so training sees the same crops as without this)."""
        loader = self.trainer.train_dataloader
        if isinstance(loader, Mapping):  # with data.unlabelled_root: the labelled loader
            loader = loader[LABELLED]
        wanted = self.distillation.recalibrate_batches

        def pairs():
            for index, batch in enumerate(loader):
                if index >= wanted:
                    return
                batch = self.trainer.strategy.batch_to_device(batch)
                yield batch["t1"], batch["t2"]

        with isolate_rng():
            count = recalibrate_batchnorm(self.distiller.teacher, pairs())
        return self._pool_teacher_statistics(count)

    def _pool_teacher_statistics(self, count: int) -> int:
        """Under DDP each process re-estimated the teacher's statistics on its own shard; their
        mean weighted by each process's batch count is the plain average over all those batches
        (what one process would estimate on them), the same on every process. Returns the
        number of batches over all processes."""
        strategy = self.trainer.strategy
        if self.trainer.world_size == 1:
            return count
        total = int(strategy.reduce(torch.tensor(count, device=self.device), reduce_op="sum"))
        for module in self.distiller.teacher.modules():
            if isinstance(module, _BatchNorm) and module.running_mean is not None:
                for buffer in (module.running_mean, module.running_var):
                    pooled = strategy.reduce(buffer * count, reduce_op="sum") / max(total, 1)
                    buffer.copy_(pooled)
        return total

    def distillation_scale(self, step: int) -> float:
        """The distillation terms' weight at optimiser step ``step`` (from 0): a linear warm-up
        over ``distillation.warmup_steps`` steps, then 1."""
        warmup = self.distillation.warmup_steps
        return 1.0 if warmup <= 0 else min(1.0, (step + 1) / warmup)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        scale = self.distillation_scale(self.global_step)
        labelled = batch[LABELLED] if UNLABELLED in batch else batch
        out = self._distil(labelled, scale)
        terms = self.task_terms(out.student.logits, labelled["mask"]) | out.terms
        loss = terms["cd"] + out.loss
        if UNLABELLED in batch:
            # No labels: the distillation terms alone (the task loss is never computed).
            keep = batch_statistics(self.model) if self.unlabelled_bn == "batch" else nullcontext()
            with keep:
                free = self._distil(batch[UNLABELLED], scale)
            loss = loss + self.unlabelled_weight * free.loss
            terms |= {f"{UNLABELLED}/{name}": value for name, value in free.terms.items()}
            terms[f"{UNLABELLED}/loss"] = free.loss
        if self.distillation.warmup_steps > 0:
            terms["distill_scale"] = loss.new_tensor(scale)
        self.log_loss(loss, terms, batch_size_of(labelled))
        return loss

    def _distil(self, batch: Batch, scale: float) -> DistillationOutput:
        """The Distiller's terms on one degraded batch (labelled or not)."""
        return self.distiller(
            batch["t1"], batch["t2"], batch["student_t1"], batch["student_t2"], scale=scale
        )

    def eval_pair(self, batch: Batch) -> tuple[Tensor, Tensor]:
        return batch["student_t1"], batch["student_t2"]

    def trainable_parameters(self) -> Iterable[nn.Parameter]:
        return self.distiller.student_parameters()

    # -- checkpoints: the student (``model.``) and any adapters; never the teacher -------------

    def checkpoint_info(self) -> CheckpointInfo:
        return CheckpointInfo(
            model_config=dict(self.model.config),
            role="student",
            method=self.distillation.method,
            degradation=self.setting.name,
            degraded_date=self.setting.degraded_date(self.degraded_date),
            tile_size=self.crop_size,
            extra={
                "teacher_checkpoint": self.teacher_checkpoint,
                "pretrained": self.network.pretrained,
                "init_from_teacher": self.init_from_teacher,
                "teacher_bn": self.distillation.teacher_bn,
                "teacher_bn_batches": self.recalibrated_batches,
                "unlabelled_weight": self.unlabelled_weight,
                "unlabelled_bn": self.unlabelled_bn,
            },
        )
