"""Settings of the distillation objective."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hicd.errors import ConfigError, check_choice

TEACHER_BN_MODES = ("batch", "recalibrate", "running")
"""How the frozen teacher's BatchNorm layers normalise (see ``DistillationConfig.teacher_bn``)."""

METHOD_NAMES = ("none", "feature", "logit", "hicd")
"""The values of ``DistillationConfig.method``: CE only, FitNet feature MSE, logit KD,
hierarchical correlation (each implemented by ``hicd.distillation.methods.METHODS[name]``)."""

REDUCTIONS = ("mean", "sum")
"""How a distillation module combines its terms (see ``DistillationConfig.reduction``)."""


@dataclass
class DistillationConfig:
    """How the student is trained against the teacher.

    The total loss is ``L_CD + Σ module totals`` (L_CD: ``hicd.models.losses.TaskLossConfig``).
    For ``hicd`` each module (SFD, CFD) is ``lambda·Σ_kind w_kind·mean_kind / Σ_kind w_kind`` with ``reduction="mean"`` (each kind's
    terms averaged over levels and dates), or ``lambda·Σ w_kind·term`` with ``"sum"``;
    ``w_kind`` is ``w_self``, ``w_cross`` or ``w_global``. For ``feature`` and ``logit``:
    ``L = L_CD + lambda_kd·Σ terms``. Defaults and the evidence for them: docs/method.md.

    Attributes:
        method: one of ``none``, ``feature``, ``logit``, ``hicd``.
        use_sfd: semantic feature distillation on encoder features (``hicd``; also selects the
            encoder levels of ``feature``).
        use_cfd: change feature distillation on change features (``hicd``; also selects the
            change levels of ``feature``).
        sfd_levels: encoder levels to distil (indices into ``features_t1``); None = all.
        cfd_levels: change-feature levels to distil (indices into ``change_features``); None = all.
        use_self: self-correlation terms (SFD and CFD).
        use_cross: cross-correlation terms between the two dates (SFD).
        use_global: global correlation terms across the batch (SFD and CFD).
        centered: centre features before correlating them (per image and channel for self and
            cross correlation, over the batch for the global one).
        reduction: ``mean`` (each module a weighted mean of its kinds) or ``sum`` (every term
            added with its weight, as in hicd 0.1).
        teacher_bn: how the teacher's BatchNorm normalises: ``batch`` (with the statistics of
            the clean batch it sees, as the student's does in training; running statistics
            untouched), ``recalibrate`` (running statistics re-estimated on
            ``recalibrate_batches`` clean training batches before stage 2) or ``running`` (the
            stored running statistics).
        recalibrate_batches: training batches used by ``teacher_bn="recalibrate"``.
        warmup_steps: the distillation terms' weight rises linearly from 0 to 1 over this many
            optimiser steps (0: full weight from the start).
        lambda_sfd: weight of the SFD module.
        lambda_cfd: weight of the CFD module.
        w_self: weight of each self-correlation term.
        w_cross: weight of each cross-correlation term.
        w_global: weight of each global correlation term.
        temperature: softmax temperature τ of the ``logit`` baseline.
        lambda_kd: weight of the ``feature`` and ``logit`` baselines' terms.
    """

    method: str = "hicd"
    use_sfd: bool = True
    use_cfd: bool = True
    sfd_levels: list[int] | None = None
    cfd_levels: list[int] | None = None
    use_self: bool = True
    use_cross: bool = True
    use_global: bool = True
    centered: bool = True
    reduction: str = "mean"
    teacher_bn: str = "batch"
    recalibrate_batches: int = 32
    warmup_steps: int = 0
    lambda_sfd: float = 0.1
    lambda_cfd: float = 0.1
    w_self: float = 1.0
    w_cross: float = 1.0
    w_global: float = 1.0
    temperature: float = 4.0
    lambda_kd: float = 1.0

    def __post_init__(self) -> None:
        check_choice(self.method, METHOD_NAMES, "distillation.method")
        weights = ("lambda_sfd", "lambda_cfd", "w_self", "w_cross", "w_global", "lambda_kd")
        for name in weights:
            if getattr(self, name) < 0:
                raise ConfigError(f"distillation.{name}: must be ≥ 0, got {getattr(self, name)}")
        check_choice(self.teacher_bn, TEACHER_BN_MODES, "distillation.teacher_bn")
        check_choice(self.reduction, REDUCTIONS, "distillation.reduction")
        for option in ("recalibrate_batches", "warmup_steps"):
            if getattr(self, option) < 0:
                raise ConfigError(
                    f"distillation.{option}: must be ≥ 0, got {getattr(self, option)}"
                )
        if self.temperature <= 0:
            raise ConfigError(f"distillation.temperature: must be > 0, got {self.temperature}")


PRESETS: dict[str, dict[str, Any]] = {
    "hicd-v1": {"method": "hicd", "centered": False, "reduction": "sum", "teacher_bn": "running"},
    "hicd-finetune": {"method": "hicd", "lambda_sfd": 1.0, "lambda_cfd": 1.0},
}
"""Named option sets, each only what differs from the defaults (``DistillationConfig(**PRESETS[
name])``, configs/students/<name>.yaml): ``hicd-v1`` is the objective of hicd 0.1 (uncentred
correlations, every term summed, the teacher's running BatchNorm statistics), kept for
comparisons; ``hicd-finetune`` is the validation choice for students fine-tuned from the teacher
(λ = 1, docs/method.md)."""
