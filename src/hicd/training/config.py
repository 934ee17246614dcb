"""Option groups of the training modules (dataclasses, so YAML configs can set each field)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hicd.errors import ConfigError, check_choice, cwd_note
from hicd.models import DEFAULT_BACKBONE, DEFAULT_MODEL, ChangeDetectionModel, create_model

T = TypeVar("T")


def check_path(option: str, path: str | Path | None, hint: str = "") -> None:
    """Raise a one-line ``ConfigError`` naming ``option`` when ``path`` is given but missing.

    ``hint`` is added to the message (e.g. what else the option accepts).
    """
    if path is None or Path(path).exists():
        return
    raise ConfigError(f"{option}: {path} not found{cwd_note(path)}{hint}")


@dataclass
class NetworkConfig:
    """The change-detection network: ``create_model(name, backbone, pretrained, in_channels,
    **options)``.

    Attributes:
        name: architecture (``siam_fpn`` or ``bit``).
        backbone: encoder name (``tv_mobilenet_v2`` or a timm model).
        pretrained: backbone weights file (relative paths are relative to the working directory),
            ``"imagenet"`` (downloads) or None (random initialisation).
        in_channels: bands per date.
        options: further model options, e.g. ``{"decoder_channels": 64}`` (see
            ``hicd.models.model_options``).
    """

    name: str = DEFAULT_MODEL
    backbone: str = DEFAULT_BACKBONE
    pretrained: str | None = None
    in_channels: int = 3
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # jsonargparse turns a command-line `--model.init_args.network.pretrained null` into
        # the string "None"; no weights file has that name.
        if self.pretrained in ("None", "null", ""):
            self.pretrained = None

    def build(self) -> ChangeDetectionModel:
        """The network these options describe."""
        return create_model(
            self.name, self.backbone, self.pretrained, self.in_channels, **self.options
        )

    @classmethod
    def from_model_config(
        cls, model_config: Mapping[str, Any], pretrained: str | None = None
    ) -> NetworkConfig:
        """The options that rebuild ``model.config`` (as stored in a checkpoint)."""
        options = dict(model_config)
        return cls(
            name=options.pop("name", DEFAULT_MODEL),
            backbone=options.pop("backbone", DEFAULT_BACKBONE),
            pretrained=pretrained,
            in_channels=int(options.pop("in_channels", 3)),
            options=options,
        )


SCHEDULES = ("cosine", "poly", "constant")


@dataclass
class OptimConfig:
    """AdamW with a per-step learning-rate schedule over the whole run.

    Attributes:
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        betas: AdamW betas.
        schedule: ``cosine`` (to ``min_lr_ratio·lr``), ``poly`` (``(1 - progress)^power``) or
            ``constant``.
        warmup_steps: linear warm-up from 0 over this many optimiser steps.
        poly_power: exponent of the ``poly`` schedule.
        min_lr_ratio: final learning rate of ``cosine`` and ``poly``, as a fraction of ``lr``.
    """

    lr: float = 1e-3
    weight_decay: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "cosine"
    warmup_steps: int = 0
    poly_power: float = 0.9
    min_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        check_choice(self.schedule, SCHEDULES, "optim.schedule")
        if self.lr <= 0:
            raise ConfigError(f"optim.lr: must be > 0, got {self.lr}")
        if self.warmup_steps < 0:
            raise ConfigError(f"optim.warmup_steps: must be ≥ 0, got {self.warmup_steps}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"optim.min_lr_ratio: must be in [0, 1], got {self.min_lr_ratio}")
        self.betas = tuple(self.betas)


def as_config(cls: type[T], value: T | Mapping[str, Any] | None, option: str) -> T:
    """``value`` as a ``cls`` dataclass: instances pass, mappings are expanded, None is the
    default."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ConfigError(
                f"{option}: unknown option {', '.join(unknown)}; "
                f"expected some of {', '.join(sorted(names))}"
            )
        return cls(**value)
    raise ConfigError(f"{option}: expected a mapping of options, got {value!r}")
