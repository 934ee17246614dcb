"""From measurements to a named setting, and whether a checkpoint was trained for a gap.

The decision rule and its thresholds are documented in docs/inspection.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from hicd.degradations.kinds import SEVERITY_TABLE
from hicd.degradations.settings import SCALES, DegradationSetting
from hicd.errors import ConfigError

SCALE_STEPS: tuple[int, ...] = (1, *SCALES)
NOISE_SIGMA = 14.0
"""Grey levels from which a date counts as noisy: between clean aerial crops (Immerkær reads
2–12 on them) and gaussian_noise severity 1 (20.4)."""
NOISE_RATIO = 1.5
"""...and only when its noise is this many times the other date's."""
JPEG_QUALITY = 40
"""JPEG quality at or below which a date counts as JPEG-degraded (the single kind's qualities
are 7–25; imagery is commonly delivered at 75 or more) ..."""
JPEG_MARGIN = 10
"""... when the other date shows no JPEG trace or one at least this much higher."""
LOW_LIGHT_MEAN = 0.6
"""Mean-brightness ratio (degraded / other) below which a date counts as darkened."""
HAZE_CONTRAST, HAZE_MEAN = 0.6, 1.25
"""Contrast ratio below which, with a brightness ratio above HAZE_MEAN, a date counts as hazy."""
HAZE_DEPTH = 0.85
"""Mid depth of the haze model: contrast ratio ≈ exp(−beta · HAZE_DEPTH)."""
DEFAULT_DATE = "t2"
"""The date of a suggested setting named without ``@t1``/``@t2``."""


def nearest_scale(relative_scale: float) -> int:
    """The nearest of 1, 2, 4, 8 (in log2) to a scale ≥ 1 (or to its inverse below 1)."""
    scale = max(relative_scale, 1.0 / relative_scale)
    return min(SCALE_STEPS, key=lambda s: abs(math.log2(scale) - math.log2(s)))


def _nearest_severity(kind: str, key: str, value: float) -> int:
    rows = SEVERITY_TABLE[kind]
    return min(rows, key=lambda s: abs(math.log(rows[s][key]) - math.log(max(value, 1e-6))))


def classify(
    relative_scale: float, dates: Mapping[str, Mapping[str, float | int | None]]
) -> tuple[str, str]:
    """``(degraded_date, suggested_setting)`` from the relative scale and each date's
    measurements (``noise_sigma``, ``jpeg_quality``, ``mean``, ``contrast``)."""
    scale = nearest_scale(relative_scale)
    if scale > 1:
        date = "t2" if relative_scale > 1 else "t1"
        other = dates["t1" if date == "t2" else "t2"]
        degraded = dates[date]
        noisy = _is_noisy(degraded, other) or _is_jpeg(degraded, other)
        return date, _at(DegradationSetting("multi" if noisy else "resolution", scale=scale), date)
    for date, other in (("t2", "t1"), ("t1", "t2")):
        if _is_noisy(dates[date], dates[other]):
            sigma = float(dates[date]["noise_sigma"]) / 255  # type: ignore[arg-type]
            severity = _nearest_severity("gaussian_noise", "sigma", sigma)
            return date, _at(_single("gaussian_noise", severity), date)
    for date, other in (("t2", "t1"), ("t1", "t2")):
        if _is_jpeg(dates[date], dates[other]):
            quality = float(dates[date]["jpeg_quality"])  # type: ignore[arg-type]
            return date, _at(_single("jpeg", _nearest_severity("jpeg", "quality", quality)), date)
    for date, other in (("t2", "t1"), ("t1", "t2")):
        found = _light(dates[date], dates[other])
        if found:
            return date, _at(found, date)
    return "none", "clean"


def _single(kind: str, severity: int) -> DegradationSetting:
    return DegradationSetting("single", kind=kind, severity=severity)


def _at(setting: DegradationSetting, date: str) -> str:
    """The setting's name with ``date`` (t2, the default date, is left unnamed)."""
    return dataclasses.replace(setting, date=None if date == DEFAULT_DATE else date).name


def is_noisy(sigma: float, other_sigma: float) -> bool:
    """Whether a date of noise ``sigma`` counts as noisy next to a date of ``other_sigma``."""
    return sigma >= NOISE_SIGMA and sigma >= NOISE_RATIO * other_sigma


def _is_noisy(date: Mapping, other: Mapping) -> bool:
    return is_noisy(float(date["noise_sigma"]), float(other["noise_sigma"]))


def _is_jpeg(date: Mapping, other: Mapping) -> bool:
    quality, other_quality = date.get("jpeg_quality"), other.get("jpeg_quality")
    if quality is None or quality > JPEG_QUALITY:
        return False
    return other_quality is None or other_quality >= quality + JPEG_MARGIN


def _light(date: Mapping, other: Mapping) -> DegradationSetting | None:
    """A low_light or haze setting when the date is much darker, or much paler and flatter,
    than the other (rough: real dates differ in brightness and contrast by themselves)."""
    mean, other_mean = float(date["mean"]), float(other["mean"])
    contrast, other_contrast = float(date["contrast"]), float(other["contrast"])
    if min(mean, other_mean, contrast, other_contrast) < 1.0:  # flat or black: nothing to tell
        return None
    if mean / other_mean < LOW_LIGHT_MEAN:
        rows = SEVERITY_TABLE["low_light"]
        base = other_mean / 255

        def predicted(severity: int) -> float:
            return rows[severity]["gain"] * base ** rows[severity]["gamma"] * 255

        severity = min(rows, key=lambda s: abs(math.log(predicted(s) / mean)))
        return _single("low_light", severity)
    if contrast / other_contrast < HAZE_CONTRAST and mean / other_mean > HAZE_MEAN:
        beta = -math.log(contrast / other_contrast) / HAZE_DEPTH
        return _single("haze", _nearest_severity("haze", "beta", beta))
    return None


def parse_trained(setting: str | None, degraded_date: str = "t2") -> tuple[str, str]:
    """A checkpoint's training setting as ``(name, date)`` (``DegradationSetting.parse``: the
    name without its date, the date it names or else ``degraded_date``); None means clean. A
    name that does not parse is returned whole (``accepts`` then refuses it)."""
    if setting is None or setting == "":
        return "clean", degraded_date
    try:
        parsed = DegradationSetting.parse(str(setting))
    except ConfigError:
        return str(setting), degraded_date
    return parsed.base_name, parsed.date or degraded_date


def accepts(
    trained: str | None, trained_date: str, suggested_setting: str, relative_scale: float
) -> tuple[bool, str]:
    """Whether a checkpoint trained on ``trained`` (degrading ``trained_date``) covers a pair
    whose gap was measured as ``suggested_setting`` (and ``relative_scale``), with the reason.

    The rule (docs/inspection.md): ``mixed`` covers every gap; a clean pair is covered by every
    checkpoint; otherwise the degraded dates must agree and the gap must be of the trained
    family (multi covers resolution) at no more than the trained scale or severity.
    """
    name, date = parse_trained(trained, trained_date)
    mine = DegradationSetting.parse(suggested_setting)
    gap, gap_date = mine.base_name, mine.date or DEFAULT_DATE
    try:
        theirs = DegradationSetting.parse(name)
    except ConfigError:
        theirs = None
    if theirs is not None and theirs.setting == "mixed":
        return True, "a universal (mixed) checkpoint covers every gap"
    if mine.setting == "clean":
        return True, "no quality gap"
    if name == "clean":
        return False, f"the checkpoint was trained on clean pairs, this pair looks like {gap}"
    if gap_date != date:
        return False, f"the checkpoint was trained with {date} degraded, this pair has {gap_date}"
    if theirs is None:
        return False, f"the checkpoint's setting {trained!r} is not a known setting"
    if mine.setting in ("resolution", "multi") and theirs.setting in ("resolution", "multi"):
        if mine.setting == "multi" and theirs.setting == "resolution":
            return False, f"the pair looks like {gap}, the checkpoint knows only resolution"
        if nearest_scale(relative_scale) <= theirs.scale:
            return (
                True,
                f"scale ×{nearest_scale(relative_scale)} within the trained ×{theirs.scale}",
            )
        return False, f"scale ×{nearest_scale(relative_scale)} beyond the trained ×{theirs.scale}"
    if mine.setting == "single" and theirs.setting == "single" and mine.kind == theirs.kind:
        if mine.severity <= theirs.severity:
            return (
                True,
                f"{mine.kind} severity {mine.severity} within the trained {theirs.severity}",
            )
        return False, f"{mine.kind} severity {mine.severity} beyond the trained {theirs.severity}"
    return False, f"the pair looks like {gap}, the checkpoint was trained on {name}"
