"""Pretrained backbone weights: where the shared file lies, reading a weights file and loading it
strictly, with errors that name the file."""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from hicd.errors import DataError, cwd_note

_WRAPPER_KEYS = ("state_dict", "model")

SHARED_WEIGHTS_ENV = "HICD_SHARED_WEIGHTS"
MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"


def shared_weights_dir() -> Path:
    """``$HICD_SHARED_WEIGHTS``, else ``shared/weights`` beside the checkout (``../shared/weights``
    seen from the repository root)."""
    override = os.environ.get(SHARED_WEIGHTS_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[4] / "shared/weights"


def shared_backbone_weights() -> Path | None:
    """The ImageNet MobileNetV2 file in :func:`shared_weights_dir` when present, else None (hicd
    never downloads weights)."""
    path = shared_weights_dir() / MOBILENET_V2_FILE
    return path if path.is_file() else None


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Load a state dict from ``path`` (bare, or under a ``state_dict``/``model`` key) on CPU."""
    if not path.is_file():
        raise DataError(f"pretrained weights file {path} does not exist{cwd_note(path)}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(
            f"cannot read pretrained weights file {path}: not a PyTorch state dict "
            f"loadable with weights_only=True ({_reason(error)})"
        ) from error
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise DataError(f"pretrained weights file {path} does not hold a state dict of tensors")
    return dict(obj)


def _reason(error: Exception) -> str:
    if isinstance(error, pickle.UnpicklingError):
        return "unpickling refused"  # torch's own text suggests weights_only=False: not wanted
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__


def _examples(kind: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:5])
    return f"{len(keys)} {kind} keys ({shown}{', ...' if len(keys) > 5 else ''})"


def load_strict(module: nn.Module, state_dict: Mapping[str, Tensor], path: Path, what: str) -> None:
    """Load ``state_dict`` into ``module`` requiring every key and shape to match.

    Raises:
        DataError: naming ``path`` and ``what`` it should fit, with the first offending keys.
    """
    try:
        result = module.load_state_dict(state_dict, strict=False)
    except RuntimeError as error:
        raise DataError(f"pretrained weights file {path} does not fit {what}: {error}") from error
    problems = []
    if result.missing_keys:
        problems.append(_examples("missing", result.missing_keys))
    if result.unexpected_keys:
        problems.append(_examples("unexpected", result.unexpected_keys))
    if problems:
        raise DataError(
            f"pretrained weights file {path} does not fit {what}: {'; '.join(problems)}"
        )
