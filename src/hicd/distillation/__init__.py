"""Hierarchical correlation distillation (HiCD) and baseline distillation methods."""

from hicd.distillation.config import METHOD_NAMES, DistillationConfig
from hicd.distillation.correlation import (
    cross_correlation_loss,
    global_correlation_loss,
    naive_cross_correlation_loss,
    naive_global_correlation_loss,
    naive_self_correlation_loss,
    self_correlation_loss,
)
from hicd.distillation.distiller import DistillationOutput, Distiller
from hicd.distillation.methods import METHODS
from hicd.models.checkpoint import load_student, save_student

__all__ = [
    "METHODS",
    "METHOD_NAMES",
    "DistillationConfig",
    "DistillationOutput",
    "Distiller",
    "cross_correlation_loss",
    "global_correlation_loss",
    "load_student",
    "naive_cross_correlation_loss",
    "naive_global_correlation_loss",
    "naive_self_correlation_loss",
    "save_student",
    "self_correlation_loss",
]
