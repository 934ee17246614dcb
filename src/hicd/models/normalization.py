"""Input normalisation, carried by the model so training, export and prediction agree."""

from __future__ import annotations

from collections.abc import Sequence

from hicd.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_statistics(in_channels: int) -> tuple[list[float], list[float]]:
    """ImageNet statistics for the first three bands; every other band gets their average."""
    mean_rgb, std_rgb = sum(IMAGENET_MEAN) / 3, sum(IMAGENET_STD) / 3
    mean = [*IMAGENET_MEAN[:in_channels], *[mean_rgb] * max(0, in_channels - 3)]
    std = [*IMAGENET_STD[:in_channels], *[std_rgb] * max(0, in_channels - 3)]
    return mean, std


def resolve_statistics(
    in_channels: int, mean: Sequence[float] | None, std: Sequence[float] | None
) -> tuple[list[float], list[float]]:
    """Per-band mean and std of [0, 1] inputs; None takes :func:`default_statistics`."""
    default_mean, default_std = default_statistics(in_channels)
    mean = [float(v) for v in mean] if mean is not None else default_mean
    std = [float(v) for v in std] if std is not None else default_std
    for key, values in (("mean", mean), ("std", std)):
        if len(values) != in_channels:
            raise ConfigError(
                f"model.{key}: needs {in_channels} values (one per band), got {len(values)}"
            )
    if min(std) <= 0:
        raise ConfigError(f"model.std: every value must be positive, got {std}")
    return mean, std
