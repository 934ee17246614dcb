"""Degradation settings: what to apply, how it is named, and parsing of setting lists."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hicd.degradations.kinds import SINGLE_KINDS
from hicd.errors import ConfigError

SETTINGS: tuple[str, ...] = ("clean", "resolution", "single", "multi")
SCALES: tuple[int, ...] = (2, 4, 8)
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

_SCALED = ("resolution", "multi")
_NAME_FORMS = "'clean', 'resolution-x<2|4|8>', 'single-<kind>-s<1..5>', 'multi-x<2|4|8>'"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class DegradationSetting:
    """One quality-difference setting applied to the images of one date.

    Attributes:
        setting: "clean", "resolution", "single" or "multi".
        scale: downsampling factor (2, 4 or 8) of "resolution" and "multi".
        kind: the degradation of "single", one of ``SINGLE_KINDS``; None otherwise.
        severity: 1 (mild) to 5 (severe), used by "single".
    """

    setting: str
    scale: int = 4
    kind: str | None = None
    severity: int = 3

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ConfigError(f"degradation setting {self.setting!r} is not one of {SETTINGS}")
        if self.setting in _SCALED and (not _is_int(self.scale) or self.scale not in SCALES):
            raise ConfigError(
                f"scale {self.scale!r} of degradation setting {self.setting!r} is not one of {SCALES}"
            )
        if self.setting == "single":
            if self.kind not in SINGLE_KINDS:
                raise ConfigError(
                    f"kind {self.kind!r} of degradation setting 'single' is not one of {SINGLE_KINDS}"
                )
            if not _is_int(self.severity) or self.severity not in SEVERITIES:
                raise ConfigError(
                    f"severity {self.severity!r} of degradation setting 'single' is not one of "
                    f"{SEVERITIES}"
                )
        elif self.kind is not None:
            raise ConfigError(
                f"kind {self.kind!r} given for degradation setting {self.setting!r}; "
                "only 'single' takes a kind"
            )

    @property
    def name(self) -> str:
        """Canonical name: "clean", "resolution-x4", "single-jpeg-s3", "multi-x4"."""
        if self.setting == "single":
            return f"single-{self.kind}-s{self.severity}"
        if self.setting in _SCALED:
            return f"{self.setting}-x{self.scale}"
        return self.setting

    @classmethod
    def parse(cls, name: str) -> DegradationSetting:
        """Inverse of ``name``; raises ConfigError naming the bad string."""
        if not isinstance(name, str):
            raise ConfigError(f"degradation setting must be a string, got {name!r}")
        for pattern, build in _PATTERNS:
            match = pattern.fullmatch(name.strip())
            if match is None:
                continue
            try:
                return build(match)
            except ConfigError as err:
                raise ConfigError(f"degradation setting {name!r}: {err}") from None
        raise ConfigError(f"degradation setting {name!r} is not valid; expected {_NAME_FORMS}")

    def __str__(self) -> str:
        return self.name


_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], DegradationSetting]], ...] = (
    (re.compile(r"clean"), lambda m: DegradationSetting("clean")),
    (
        re.compile(r"(resolution|multi)-x(\d+)"),
        lambda m: DegradationSetting(m[1], scale=int(m[2])),
    ),
    (
        re.compile(r"single-([a-z_]+)-s(\d+)"),
        lambda m: DegradationSetting("single", kind=m[1], severity=int(m[2])),
    ),
)


def _expand_one(item: str) -> list[DegradationSetting]:
    if item == "single":
        return [
            DegradationSetting("single", kind=k, severity=s)
            for k in SINGLE_KINDS
            for s in SEVERITIES
        ]
    if item.startswith("single-") and item[len("single-") :] in SINGLE_KINDS:
        kind = item[len("single-") :]
        return [DegradationSetting("single", kind=kind, severity=s) for s in SEVERITIES]
    if item in _SCALED:
        return [DegradationSetting(item, scale=s) for s in SCALES]
    return [DegradationSetting.parse(item)]


def expand_settings(spec: str) -> list[DegradationSetting]:
    """Parse a comma-separated list of setting names into settings, in order, without repeats.

    Besides full names, a bare family expands to all its members: "single" to every kind at
    every severity (``SINGLE_KINDS`` order, severities 1..5), "single-<kind>" to that kind at
    severities 1..5, "resolution" and "multi" to scales 2, 4 and 8.
    """
    if not isinstance(spec, str):
        raise ConfigError(f"degradation settings must be a comma-separated string, got {spec!r}")
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"degradation settings {spec!r} name no setting")
    settings: dict[str, DegradationSetting] = {}
    for item in items:
        for setting in _expand_one(item):
            settings.setdefault(setting.name, setting)
    return list(settings.values())
