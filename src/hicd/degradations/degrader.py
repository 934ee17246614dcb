"""The Degrader: applies one setting to a batch of one date's images and records what it did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from hicd.degradations.draws import sample_generator
from hicd.degradations.ops import Op, run_plans
from hicd.degradations.sampling import Plan, sample_plan
from hicd.degradations.settings import DATES, DegradationSetting
from hicd.errors import ConfigError, HicdError, check_choice

Levels = float | Sequence[float] | Tensor


class Degrader:
    """Degrade B×C×H×W float images in [0, 1] under one setting.

    With ``seed`` set (deterministic mode) each image's parameters and noise come from a CPU
    generator seeded by SHA-256 of ``[seed, name, setting.base_name]``, so an image degrades the same,
    bit for bit, whatever batch it arrives in; ``names`` are then required. With ``seed`` None
    (random mode) every call draws fresh parameters from ``generator`` (a CPU generator) or
    torch's default CPU RNG.

    ``levels`` rounds each degraded image to the levels of the integer image it came from (the
    pixel value that maps to 1.0, e.g. 255 for uint8; 0 leaves a float image as it is), as
    writing it to disk would: every path that makes degraded images (``hicd degrade``, the
    datasets, the student's training and validation) gives the same values.

    :meth:`pair` degrades one date of each image pair: the setting's own date (``@t1``), else
    the caller's, or for ``mixed`` a date drawn per pair from the same stream as its ops.
    Calling the Degrader on one date's images works for every setting but ``mixed``.
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
        if self.setting.setting == "mixed":
            raise ConfigError(
                f"{self!r}: 'mixed' draws which date of each pair it degrades; call "
                "Degrader.pair(t1, t2, ...) with both dates"
            )
        self._check_images(images)
        batch, channels, height, width = images.shape
        generators = self._generators(batch, names, generator)
        plans = [sample_plan(self.setting, g, (channels, height, width), "t2") for g in generators]
        out = _apply(images, [plan.ops for plan in plans], _per_image(levels, batch))
        return out, [self._record(plan) for plan in plans]

    def pair(
        self,
        t1: Tensor,
        t2: Tensor,
        names: Sequence[str] | None = None,
        generator: torch.Generator | None = None,
        levels: Levels | None = None,
        date: str = "t2",
    ) -> tuple[Tensor, Tensor, list[dict[str, Any]]]:
        """Degrade one date of each of B pairs; return ``(t1, t2, records)``.

        The degraded date is the setting's own (``resolution-x4@t1``), else ``date``; ``mixed``
        draws it per pair (probability ``t1_probability`` of t1) before its ops, from the same
        generator. ``levels``: the pixel levels of (t1, t2), for all pairs or one row per pair
        (B×2; 0: no rounding). The date left clean is returned as given. Records are those of
        ``__call__``; ``mixed`` adds ``"drawn"`` (the setting applied, e.g.
        ``resolution-x3.17``, ``single-jpeg-s2``, ``clean``) and ``"date"``.
        """
        check_choice(date, DATES, f"{self!r}: date")
        self._check_images(t1)
        self._check_images(t2)
        if t1.shape != t2.shape:
            raise HicdError(
                f"{self!r}: t1 {tuple(t1.shape)} and t2 {tuple(t2.shape)} differ in shape"
            )
        batch, channels, height, width = t1.shape
        generators = self._generators(batch, names, generator)
        plans = [sample_plan(self.setting, g, (channels, height, width), date) for g in generators]
        if levels is not None:
            levels = torch.as_tensor(levels, dtype=torch.float32).reshape(-1, 2).expand(batch, 2)
        images = {"t1": t1, "t2": t2}
        for column, when in enumerate(DATES):
            chosen = [i for i, plan in enumerate(plans) if plan.date == when]
            if not chosen:
                continue
            level = None if levels is None else levels[chosen, column]
            source = images[when]
            if len(chosen) == batch:
                images[when] = _apply(source, [plans[i].ops for i in chosen], level)
            else:
                images[when] = source.clone()
                images[when][chosen] = _apply(source[chosen], [plans[i].ops for i in chosen], level)
        return images["t1"], images["t2"], [self._record(plan) for plan in plans]

    def date_of(self, record: dict[str, Any], date: str = "t2") -> str:
        """The date :meth:`pair`, called with ``date``, degraded for the pair of ``record``."""
        return record.get("date") or self.setting.degraded_date(date)

    def _record(self, plan: Plan) -> dict[str, Any]:
        ops = [op.record for op in plan.ops]
        if plan.drawn is None:
            return {"setting": self.setting.name, "ops": ops}
        return {"setting": self.setting.name, "drawn": plan.drawn, "date": plan.date, "ops": ops}

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
        return [sample_generator(self.seed, name, self.setting.base_name) for name in names]


def _per_image(levels: Levels | None, batch: int) -> Tensor | None:
    if levels is None:
        return None
    return torch.as_tensor(levels, dtype=torch.float32).reshape(-1).expand(batch)


def _apply(images: Tensor, plans: Sequence[Sequence[Op]], levels: Tensor | None) -> Tensor:
    """Run each image's ops (a new tensor, the input's dtype); images whose op sequences or
    intermediate sizes differ (``mixed``) run in separate groups, and only images with ops are
    rounded to ``levels``."""
    groups: dict[tuple, list[int]] = {}
    for index, plan in enumerate(plans):
        key = tuple((op.apply, tuple(op.record.get("size", ()))) for op in plan)
        groups.setdefault(key, []).append(index)
    parts = []
    for indices in groups.values():
        whole = len(indices) == len(plans)
        part = images if whole else images[indices]
        out = run_plans(part.to(torch.float32), [plans[i] for i in indices])
        if levels is not None and plans[indices[0]]:
            out = quantize(out, levels if whole else levels[indices])
        parts.append((indices, out.to(images.dtype)))
    if len(parts) == 1:
        out = parts[0][1]
        return images.clone() if out is images else out
    out = torch.empty_like(images)
    for indices, part in parts:
        out[indices] = part
    return out


def quantize(images: Tensor, levels: float | Sequence[float] | Tensor) -> Tensor:
    """Round B×C×H×W [0, 1] images to the levels of integer images whose maximum maps to
    ``levels`` (one value or one per image); where a level is 0 the image is left as it is."""
    scale = torch.as_tensor(levels, dtype=images.dtype, device=images.device).reshape(-1, 1, 1, 1)
    rounded = torch.round(images * scale) / scale
    return torch.where(scale > 0, rounded, images)
