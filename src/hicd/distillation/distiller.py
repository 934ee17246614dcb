"""The Distiller: a frozen teacher on clean images guiding a student on degraded ones."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from hicd.distillation.batchnorm import batch_statistics
from hicd.distillation.config import DistillationConfig
from hicd.distillation.methods import METHODS
from hicd.errors import ConfigError
from hicd.models.checkpoint import model_config_of, save_student
from hicd.models.output import ChangeOutput

TEACHER = "teacher."
"""State-dict prefix (under the Distiller's) of the frozen teacher, which is never saved."""


@dataclass
class DistillationOutput:
    """What :meth:`Distiller.forward` returns.

    The distillation part of the loss alone: the task loss L_CD needs labels and is added by
    whoever trains the student (``hicd.training.ChangeModule.task_terms``, the same for teacher
    and student), so the same call serves labelled and unlabelled pairs.

    Attributes:
        loss: ``scale·Σ module totals`` (0 for method ``none``), to add to L_CD.
        terms: every unweighted distillation term by name (``"sfd/self_t1/l0"``, ...) and each
            module's weighted total (``"sfd"``, ``"cfd"``, ``"feature"``, ``"logit"``).
        weights: the factor of each unweighted distillation term in the module totals.
        student: the student's output on the degraded pair.
        teacher: the teacher's output on the clean pair (None for method ``none``).
    """

    loss: Tensor
    terms: dict[str, Tensor]
    student: ChangeOutput
    teacher: ChangeOutput | None = None
    weights: dict[str, float] = field(default_factory=dict)


class Distiller(nn.Module):
    """A frozen teacher (always in eval mode) and the objective that trains a student with it.

    The Distiller keeps a plain reference to the student, not a submodule: whoever owns the
    student (the caller, or ``StudentModule.model``) moves, saves and loads its weights, and
    the Distiller's ``state_dict`` holds only the objective's own parameters (e.g. adapters).
    The teacher comes from its checkpoint: it is left out of ``state_dict`` and kept as it is
    when a state dict is loaded. Give the optimiser :meth:`student_parameters`. With
    ``config.teacher_bn == "batch"`` the teacher's BatchNorm layers normalise with the clean
    batch's statistics (running statistics untouched); otherwise with their running statistics.

    Args:
        student: model trained on degraded images; returns :class:`ChangeOutput`.
        teacher: model trained on clean images; may be None only for method ``none``.
        config: the distillation objective (default: ``hicd``).
        student_config: keyword arguments that rebuild the student with
            ``hicd.models.create_model``, stored by :meth:`save_student`; default: the student's
            ``config`` attribute if it has one.
    """

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module | None = None,
        config: DistillationConfig | None = None,
        student_config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.config = config or DistillationConfig()
        object.__setattr__(self, "_student", student)  # a reference, not a submodule
        self.teacher = teacher
        self.student_config = dict(student_config) if student_config else model_config_of(student)
        objective = METHODS[self.config.method]
        if objective.needs_teacher and teacher is None:
            raise ConfigError(f"distillation.method: {self.config.method!r} needs a teacher model")
        self.objective = objective.from_models(self.config, student, teacher)
        if teacher is not None:
            teacher.requires_grad_(False)
            teacher.eval()
        self.register_load_state_dict_pre_hook(_keep_teacher)

    @property
    def student(self) -> nn.Module:
        """The model being trained (not a submodule of the Distiller)."""
        return self._student

    def train(self, mode: bool = True) -> Distiller:
        """Set the student's and the objective's mode; the teacher stays in eval mode."""
        super().train(mode)
        self.student.train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def state_dict(self, *args: Any, destination=None, prefix: str = "", keep_vars: bool = False):
        """The objective's state (e.g. adapters); neither the student nor the teacher."""
        state = super().state_dict(
            *args, destination=destination, prefix=prefix, keep_vars=keep_vars
        )
        for key in [k for k in state if k.startswith(prefix + TEACHER)]:
            del state[key]
        return state

    def student_parameters(self) -> Iterator[nn.Parameter]:
        """The trainable parameters: the student's and the objective's (e.g. adapters)."""
        return chain(self.student.parameters(), self.objective.parameters())

    def forward(
        self,
        clean_t1: Tensor | None,
        clean_t2: Tensor | None,
        degraded_t1: Tensor,
        degraded_t2: Tensor,
        *,
        scale: float = 1.0,
    ) -> DistillationOutput:
        """The distillation terms of one crop: clean pair → teacher, degraded → student.

        No labels: the task loss on ``output.student.logits`` is the caller's (see
        :class:`DistillationOutput`).

        Args:
            clean_t1, clean_t2: clean B×C×H×W images (unused, may be None, for method ``none``).
            degraded_t1, degraded_t2: degraded B×C×H×W images of the same crop.
            scale: factor of the distillation terms in ``loss`` (a warm-up ramp).
        """
        teacher_out = None
        if self.objective.needs_teacher:
            if clean_t1 is None or clean_t2 is None:
                raise ConfigError(
                    f"distillation.method: {self.config.method!r} needs the clean image pair"
                )
            self.teacher.eval()
            with torch.no_grad():
                teacher_out = self.teacher_forward(clean_t1, clean_t2)
        student_out: ChangeOutput = self.student(degraded_t1, degraded_t2)
        distilled = self.objective(student_out, teacher_out)
        return DistillationOutput(
            scale * distilled.total,
            dict(distilled.terms),
            student_out,
            teacher_out,
            distilled.weights,
        )

    def teacher_forward(self, t1: Tensor, t2: Tensor) -> ChangeOutput:
        """The teacher's output on a clean pair, normalised as ``config.teacher_bn`` says."""
        if self.config.teacher_bn == "batch":
            with batch_statistics(self.teacher):
                return self.teacher(t1, t2)
        return self.teacher(t1, t2)

    def save_student(self, path: str | Path) -> Path:
        """Write the student alone (state dict + ``student_config``) atomically to ``path``."""
        return save_student(path, self.student, self.student_config, self.config.method)


def _keep_teacher(module: Distiller, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load-state-dict pre-hook: the teacher keeps its weights (state dicts never hold them)."""
    if module.teacher is not None:
        for key, value in module.teacher.state_dict().items():
            state_dict[prefix + TEACHER + key] = value
