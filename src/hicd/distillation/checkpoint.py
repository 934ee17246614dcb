"""Student-only checkpoints: the distilled model's weights and the config that rebuilds it."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hicd.errors import ConfigError, DataError

FORMAT = "hicd-student"
VERSION = 1


def model_config_of(model: nn.Module) -> dict[str, Any]:
    """The model's ``config`` attribute (dataclass or mapping) as a dict, or ``{}``."""
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return dict(config) if isinstance(config, Mapping) else {}


def save_student(path: str | Path, student: nn.Module, model_config: Mapping[str, Any]) -> Path:
    """Write ``student``'s state dict and ``model_config`` to ``path`` atomically.

    ``model_config`` holds the keyword arguments of ``hicd.models.create_model`` (or of the
    factory given to :func:`load_student`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": dict(model_config),
        "state_dict": {k: v.detach().cpu() for k, v in student.state_dict().items()},
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _default_factory() -> Callable[..., nn.Module]:
    try:
        from hicd.models import create_model  # type: ignore[attr-defined]
    except ImportError as err:
        raise ConfigError(
            "load_student: no factory given and hicd.models.create_model is not available"
        ) from err

    def build(**config: Any) -> nn.Module:
        # The weights come from the checkpoint, not from a pretrained backbone.
        return create_model(**{**config, "pretrained": None})

    return build


def load_student(
    path: str | Path,
    factory: Callable[..., nn.Module] | None = None,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """Rebuild a plain student model (in eval mode) from a :func:`save_student` checkpoint.

    Args:
        path: the checkpoint file.
        factory: called as ``factory(**model_config)``; default ``hicd.models.create_model``
            with ``pretrained=None``.
        map_location: where to load the tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: student checkpoint not found")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"{path}: not a hicd student checkpoint (no format '{FORMAT}')")
    build = factory if factory is not None else _default_factory()
    model = build(**payload["model_config"])
    model.load_state_dict(payload["state_dict"])
    return model.to(map_location).eval()
