"""The Degrader: applies one setting to a batch of one date's images and records what it did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from hicd.degradations.draws import sample_generator
from hicd.degradations.ops import run_plans
from hicd.degradations.sampling import sample_ops
from hicd.degradations.settings import DegradationSetting
from hicd.errors import ConfigError, HicdError


class Degrader:
    """Degrade B×C×H×W float images in [0, 1] under one setting.

    With ``seed`` set (deterministic mode) each image's parameters and noise come from a CPU
    generator seeded by SHA-256 of ``[seed, name, setting.name]``, so an image degrades the same,
    bit for bit, whatever batch it arrives in; ``names`` are then required. With ``seed`` None
    (random mode) every call draws fresh parameters from ``generator`` (a CPU generator) or
    torch's default CPU RNG.

    ``levels`` rounds each degraded image to the levels of the integer image it came from (the
    pixel value that maps to 1.0, e.g. 255 for uint8; 0 leaves a float image as it is), as
    writing it to disk would: every path that makes degraded images (``hicd degrade``, the
    datasets, the student's training and validation) gives the same values.
    """

    def __init__(self, setting: DegradationSetting | str, seed: int | None = None) -> None:
        if isinstance(setting, str):
            setting = DegradationSetting.parse(setting)
        if not isinstance(setting, DegradationSetting):
            raise ConfigError(f"Degrader setting must be a DegradationSetting, got {setting!r}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ConfigError(f"Degrader seed must be an int or None, got {seed!r}")
        self.setting = setting
        self.seed = seed

    def __repr__(self) -> str:
        return f"Degrader({self.setting.name!r}, seed={self.seed!r})"

    def __call__(
        self,
        images: Tensor,
        names: Sequence[str] | None = None,
        generator: torch.Generator | None = None,
        levels: float | Sequence[float] | Tensor | None = None,
    ) -> tuple[Tensor, list[dict[str, Any]]]:
        """Return the degraded batch (same shape, dtype and device) and one record per image.

        Each record is ``{"setting": name, "ops": [{"op": ..., <parameters>}, ...]}``.
        ``levels`` (one value, or one per image; 0 or None: no rounding) quantises the result.
        """
        self._check_images(images)
        batch, channels, height, width = images.shape
        generators = self._generators(batch, names, generator)
        plans = [sample_ops(self.setting, g, (channels, height, width)) for g in generators]
        out = run_plans(images.to(torch.float32), plans)
        if levels is not None and any(plans):
            out = quantize(out, levels)
        out = out.to(images.dtype)
        if out is images:
            out = images.clone()
        records = [{"setting": self.setting.name, "ops": [op.record for op in p]} for p in plans]
        return out, records

    def _check_images(self, images: Tensor) -> None:
        where = f"{self!r}: images"
        if not isinstance(images, Tensor):
            raise HicdError(f"{where} must be a torch.Tensor, got {type(images).__name__}")
        if images.ndim != 4 or images.numel() == 0:
            raise HicdError(
                f"{where} must be a non-empty B×C×H×W tensor, got {tuple(images.shape)}"
            )
        if not images.is_floating_point():
            raise HicdError(f"{where} must be floating point in [0, 1], got {images.dtype}")
        low, high = torch.aminmax(images.detach())
        if not (low >= 0 and high <= 1):
            raise HicdError(
                f"{where} must lie in [0, 1], got values in [{low.item()}, {high.item()}]"
            )

    def _generators(
        self, batch: int, names: Sequence[str] | None, generator: torch.Generator | None
    ) -> list[torch.Generator | None]:
        if self.seed is None:
            if generator is not None and generator.device.type != "cpu":
                raise ConfigError(
                    f"{self!r}: generator must be a CPU torch.Generator, got one on {generator.device}"
                )
            return [generator] * batch
        if generator is not None:
            raise ConfigError(
                f"{self!r}: generator is unused when seed is set; pass one or the other"
            )
        if names is None or isinstance(names, str) or len(names) != batch:
            got = "none" if names is None else repr(names)
            raise ConfigError(
                f"{self!r}: deterministic mode needs one name per image ({batch}), got {got}"
            )
        if not all(isinstance(name, str) for name in names):
            raise ConfigError(f"{self!r}: image names must be strings, got {list(names)!r}")
        return [sample_generator(self.seed, name, self.setting.name) for name in names]


def quantize(images: Tensor, levels: float | Sequence[float] | Tensor) -> Tensor:
    """Round B×C×H×W [0, 1] images to the levels of integer images whose maximum maps to
    ``levels`` (one value or one per image); where a level is 0 the image is left as it is."""
    scale = torch.as_tensor(levels, dtype=images.dtype, device=images.device).reshape(-1, 1, 1, 1)
    rounded = torch.round(images * scale) / scale
    return torch.where(scale > 0, rounded, images)
