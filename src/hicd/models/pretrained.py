"""Pretrained backbone weights: where the ImageNet MobileNetV2 file lies, reading a weights file
and loading it strictly, with errors that name the file.

The file is looked for in ``$HICD_SHARED_WEIGHTS``, then in ``../shared/weights`` beside the
checkout (only when hicd runs from a source checkout, not from an installed package), then in
torchvision's cache (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/checkpoints``).
hicd never downloads it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from hicd.errors import ConfigError, DataError, cwd_note

_WRAPPER_KEYS = ("state_dict", "model")

SHARED_WEIGHTS_ENV = "HICD_SHARED_WEIGHTS"
MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"


def checkout_root() -> Path | None:
    """The repository root when hicd runs from a source checkout (``src/hicd`` with a
    ``pyproject.toml`` two levels above the package), else None (an installed package)."""
    package = Path(__file__).resolve().parents[1]
    root = package.parents[1]
    if package.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None


def shared_weights_dir() -> Path | None:
    """``$HICD_SHARED_WEIGHTS``, else ``shared/weights`` beside the checkout (``../shared/weights``
    seen from the repository root) when hicd runs from a checkout, else None."""
    override = os.environ.get(SHARED_WEIGHTS_ENV)
    return Path(override) if override else _checkout_weights()


def _checkout_weights() -> Path | None:
    root = checkout_root()
    return root.parent / "shared" / "weights" if root is not None else None


def torch_hub_checkpoints() -> Path:
    """torchvision's download cache: ``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub``,
    default ``~/.cache/torch/hub``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


class WeightsPlace(NamedTuple):
    """A place the ImageNet MobileNetV2 file is looked for: its name, its folder (None where the
    place does not apply) and why it does not apply."""

    name: str
    folder: Path | None
    absent: str = ""


def backbone_weights_places() -> list[WeightsPlace]:
    """Where the ImageNet MobileNetV2 file is looked for, in order."""
    override = os.environ.get(SHARED_WEIGHTS_ENV)
    return [
        WeightsPlace(f"${SHARED_WEIGHTS_ENV}", Path(override) if override else None, "not set"),
        WeightsPlace(
            "../shared/weights beside the checkout",
            _checkout_weights(),
            "hicd is installed, not run from a checkout",
        ),
        WeightsPlace("torch's hub cache", torch_hub_checkpoints()),
    ]


def shared_backbone_weights() -> Path | None:
    """The ImageNet MobileNetV2 file (``mobilenet_v2-b0353104.pth``) from the first of
    :func:`backbone_weights_places` that holds it, else None (hicd never downloads weights)."""
    for place in backbone_weights_places():
        if place.folder is not None and (place.folder / MOBILENET_V2_FILE).is_file():
            return place.folder / MOBILENET_V2_FILE
    return None


def require_backbone_weights(hint: str = "") -> Path:
    """:func:`shared_backbone_weights`, or a one-line ``ConfigError`` naming every place looked
    in and how to provide the file (``hint``: what else the caller accepts, e.g. random
    weights)."""
    path = shared_backbone_weights()
    if path is not None:
        return path
    looked = "; ".join(
        f"{place.name}: {place.folder / MOBILENET_V2_FILE if place.folder else place.absent}"
        for place in backbone_weights_places()
    )
    raise ConfigError(
        f"the ImageNet MobileNetV2 backbone weights {MOBILENET_V2_FILE} were not found "
        f"({looked}); hicd never downloads them: put the file in one of these places or set "
        f"{SHARED_WEIGHTS_ENV} to the folder that holds it{hint}"
    )


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
