"""The checkpoint format every hicd tool reads: what prediction needs besides the weights.

A checkpoint is a ``torch.save``d dict (Lightning's ``.ckpt`` files qualify) holding
``checkpoint["hicd"]``, the metadata below, and ``checkpoint["state_dict"]`` in which the
predictive network's weights carry the prefix ``model.`` (other entries are ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hicd.atomic import atomic_path
from hicd.errors import DataError
from hicd.models import ChangeDetectionModel, create_model

METADATA_KEY = "hicd"
MODEL_PREFIX = "model."


@dataclass
class CheckpointInfo:
    """What a checkpoint says about its network.

    Attributes:
        model_config: ``create_model(**model_config)`` rebuilds the architecture (it includes the
            band count and the input normalisation).
        role: ``"teacher"`` or ``"student"``.
        method: distillation method of a student (``none``, ``feature``, ``logit``, ``hicd``).
        degradation: name of the quality-difference setting used in training (None: clean).
        degraded_date: which date was degraded in training.
        tile_size: crop size the network was trained on; prediction tiles default to it.
        extra: anything else worth keeping (seed, data, ...).
    """

    model_config: dict[str, Any]
    role: str = "teacher"
    method: str | None = None
    degradation: str | None = None
    degraded_date: str = "t2"
    tile_size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bands(self) -> int:
        """Input bands per date."""
        return int(self.model_config.get("in_channels", 3))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The predictive network's weights, without the ``model.`` prefix."""
    state = checkpoint.get("state_dict", {})
    return {
        key[len(MODEL_PREFIX) :]: value
        for key, value in state.items()
        if key.startswith(MODEL_PREFIX)
    }


def save_model_checkpoint(
    path: str | Path, model: ChangeDetectionModel, info: CheckpointInfo
) -> Path:
    """Write a minimal checkpoint (metadata and the network's weights) atomically."""
    checkpoint = {
        METADATA_KEY: info.to_dict(),
        "state_dict": {
            MODEL_PREFIX + key: value.detach().cpu() for key, value in model.state_dict().items()
        },
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(path)


def read_checkpoint_info(checkpoint: dict[str, Any], path: str | Path) -> CheckpointInfo:
    """Parse the metadata of a loaded checkpoint dict."""
    metadata = checkpoint.get(METADATA_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(metadata, dict) or "model_config" not in metadata:
        raise DataError(f"{path}: not an hicd checkpoint (no '{METADATA_KEY}' metadata)")
    return CheckpointInfo(**metadata)


def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    factory: Callable[..., nn.Module] | None = None,
) -> tuple[ChangeDetectionModel, CheckpointInfo]:
    """Rebuild the network of a checkpoint, load its weights strictly, and put it in eval mode.

    ``factory(**model_config)`` builds the network (default: ``create_model`` without a
    pretrained backbone, since the weights come from the checkpoint). Checkpoints are pickled
    files: load only those you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise DataError(f"{path}: unreadable checkpoint ({error})") from error
    info = read_checkpoint_info(checkpoint, path)
    build = factory or (lambda **config: create_model(**{**config, "pretrained": None}))
    model = build(**info.model_config)
    state = model_state_dict(checkpoint)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise DataError(f"{path}: weights do not fit the stored architecture ({error})") from error
    return model.to(device).eval(), info
