"""Reading checkpoint files and loading them strictly, with errors that name the file."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from hicd.errors import DataError, cwd_note

_WRAPPER_KEYS = ("state_dict", "model")


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
