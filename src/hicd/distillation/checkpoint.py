"""Student-only checkpoints: the distilled model's weights and the config that rebuilds it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hicd.inference.checkpoint import CheckpointInfo, load_model, save_model_checkpoint


def model_config_of(model: nn.Module) -> dict[str, Any]:
    """The model's ``config`` attribute (dataclass or mapping) as a dict, or ``{}``."""
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return dict(config) if isinstance(config, Mapping) else {}


def save_student(
    path: str | Path,
    student: nn.Module,
    model_config: Mapping[str, Any],
    method: str | None = None,
) -> Path:
    """Write ``student``'s weights and ``model_config`` atomically, in the checkpoint format every
    hicd tool reads (:mod:`hicd.inference.checkpoint`)."""
    info = CheckpointInfo(model_config=dict(model_config), role="student", method=method)
    return save_model_checkpoint(path, student, info)


def load_student(
    path: str | Path,
    factory: Callable[..., nn.Module] | None = None,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """Rebuild a plain student model (in eval mode) from a :func:`save_student` checkpoint.

    ``factory(**model_config)`` builds it; default ``hicd.models.create_model`` with
    ``pretrained=None``.
    """
    return load_model(path, map_location, factory)[0]
