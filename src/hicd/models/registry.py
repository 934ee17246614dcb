"""The model factory: ``create_model(name, ...)`` over the ``MODELS`` mapping."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from hicd.errors import ConfigError, check_choice
from hicd.models.base import ChangeDetectionModel
from hicd.models.bit import BIT
from hicd.models.encoders import DEFAULT_BACKBONE
from hicd.models.siam_fpn import SiamFPN

MODELS: dict[str, type[ChangeDetectionModel]] = {cls.name: cls for cls in (SiamFPN, BIT)}
DEFAULT_MODEL = "siam_fpn"


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`."""
    return sorted(MODELS)


def model_options(name: str) -> list[str]:
    """Keyword options of model ``name`` (beyond ``backbone``, ``pretrained``, ``in_channels``)."""
    parameters = inspect.signature(_model_class(name).__init__).parameters
    return [p for p in parameters if p not in ("self", "backbone", "pretrained", "in_channels")]


def _model_class(name: str) -> type[ChangeDetectionModel]:
    return MODELS[check_choice(name, list_models(), "model")]


def create_model(
    name: str = DEFAULT_MODEL,
    backbone: str = DEFAULT_BACKBONE,
    pretrained: str | Path | None = None,
    in_channels: int = 3,
    **kwargs: Any,
) -> ChangeDetectionModel:
    """Build change-detection network ``name`` (see :func:`list_models`).

    Args:
        name: architecture, ``"siam_fpn"`` (default) or ``"bit"``.
        backbone: ``"tv_mobilenet_v2"`` (default; loads torchvision's ImageNet file) or a timm name.
        pretrained: None (random init), a backbone weights file loaded strictly, or
            ``"imagenet"`` (the only value that downloads).
        in_channels: bands per date; ≠ 3 adapts the first convolution.
        **kwargs: model options, e.g. ``decoder_channels``, ``pad_mode``, ``strict_size``.

    ``model.config`` holds everything but ``pretrained``: ``create_model(**model.config)`` rebuilds
    the architecture, into which ``model.state_dict()`` loads strictly.
    """
    model_class = _model_class(name)
    unknown = sorted(set(kwargs) - set(model_options(name)))
    if unknown:
        raise ConfigError(
            f"model {name!r} has no option {', '.join(unknown)}; "
            f"its options are {', '.join(model_options(name))}"
        )
    arguments = inspect.signature(model_class).bind(
        backbone=backbone, pretrained=pretrained, in_channels=in_channels, **kwargs
    )
    arguments.apply_defaults()
    model = model_class(**arguments.arguments)
    config = {"name": name, **arguments.arguments, "mean": model.mean, "std": model.std}
    del config["pretrained"]
    model.config = config
    return model
