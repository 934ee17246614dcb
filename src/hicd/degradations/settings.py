"""Degradation settings: what to apply, how it is named, and parsing of setting lists."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

from hicd.degradations.kinds import SINGLE_KINDS
from hicd.degradations.tables import MIXED_T1_PROBABILITY
from hicd.errors import ConfigError

SETTINGS: tuple[str, ...] = ("clean", "resolution", "single", "multi", "mixed")
SCALES: tuple[int, ...] = (2, 4, 8)
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
DATES: tuple[str, ...] = ("t1", "t2")
EITHER_DATE = "either"
"""What a run records as its degraded date when the setting draws it per pair (``mixed``)."""

_SCALED = ("resolution", "multi")
_NAME_FORMS = (
    "'clean', 'resolution-x<2|4|8>', 'single-<kind>-s<1..5>', 'multi-x<2|4|8>' (each optionally "
    "with '@t1' or '@t2'), 'mixed' or 'mixed-t1p<probability>'"
)


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
        date: the date degraded, "t1" or "t2" (name suffix ``@t1``/``@t2``); None: the
            caller's date (``--date``, ``degraded_date``). "mixed" draws its own and takes none.
        t1_probability: "mixed" only: the probability that t1 (not t2) is the degraded date of
            a pair (default 0.5; None elsewhere).
    """

    setting: str
    scale: int = 4
    kind: str | None = None
    severity: int = 3
    date: str | None = None
    t1_probability: float | None = None

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ConfigError(f"degradation setting {self.setting!r} is not one of {SETTINGS}")
        if self.date is not None and self.date not in DATES:
            raise ConfigError(
                f"date {self.date!r} of degradation setting {self.setting!r} is not one of "
                f"{DATES} (or None: the caller's date)"
            )
        self._check_mixed()
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

    def _check_mixed(self) -> None:
        if self.setting != "mixed":
            if self.t1_probability is not None:
                raise ConfigError(
                    f"t1_probability given for degradation setting {self.setting!r}; only "
                    "'mixed' draws its date"
                )
            return
        if self.date is not None:
            raise ConfigError(
                f"'mixed' draws the degraded date of each pair; it takes no date (got "
                f"{self.date!r}): drop '@{self.date}' or set t1_probability"
            )
        p = MIXED_T1_PROBABILITY if self.t1_probability is None else self.t1_probability
        if not isinstance(p, int | float) or isinstance(p, bool) or not 0 <= p <= 1:
            raise ConfigError(
                f"t1_probability {p!r} of degradation setting 'mixed' must be a number in [0, 1]"
            )
        object.__setattr__(self, "t1_probability", float(p))

    @property
    def base_name(self) -> str:
        """The name without the date suffix; it seeds the deterministic degradation, so
        ``resolution-x4@t1`` degrades t1 exactly as ``resolution-x4`` with date t1."""
        if self.setting == "single":
            return f"single-{self.kind}-s{self.severity}"
        if self.setting in _SCALED:
            return f"{self.setting}-x{self.scale}"
        if self.setting == "mixed" and self.t1_probability != MIXED_T1_PROBABILITY:
            return f"mixed-t1p{_number(self.t1_probability)}"
        return self.setting

    @property
    def name(self) -> str:
        """Canonical name: "clean", "resolution-x4", "single-jpeg-s3", "multi-x4",
        "resolution-x4@t1", "mixed", "mixed-t1p0.25"."""
        return self.base_name + (f"@{self.date}" if self.date else "")

    def degraded_date(self, default: str = "t2") -> str:
        """The date this setting degrades when the caller's is ``default``: the setting's own
        date, else ``default``; :data:`EITHER_DATE` for "mixed" (drawn per pair)."""
        if self.setting == "mixed":
            return EITHER_DATE
        return self.date or default

    @classmethod
    def parse(cls, name: str) -> DegradationSetting:
        """Inverse of ``name``; raises ConfigError naming the bad string."""
        if not isinstance(name, str):
            raise ConfigError(f"degradation setting must be a string, got {name!r}")
        base, at, date = name.strip().partition("@")
        for pattern, build in _PATTERNS:
            match = pattern.fullmatch(base)
            if match is None:
                continue
            try:
                setting = build(match)
                return dataclasses.replace(setting, date=date) if at else setting
            except (ConfigError, ValueError) as err:
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
    (re.compile(r"mixed"), lambda m: DegradationSetting("mixed")),
    (
        re.compile(r"mixed-t1p([0-9.eE+-]+)"),
        lambda m: DegradationSetting("mixed", t1_probability=float(m[1])),
    ),
)


def _number(value: float) -> str:
    """Shortest text that reads back as ``value``: 0.25, 1, 1e-05."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


GRID: tuple[str, ...] = (
    "clean",
    "resolution-x2",
    "resolution-x4",
    "resolution-x8",
    *(f"single-{kind}-s{severity}" for kind in SINGLE_KINDS for severity in (1, 3, 5)),
    "multi-x4",
    "multi-x8",
    "resolution-x4@t1",
    "multi-x4@t1",
)
"""The robustness grid (``--settings grid``): clean; resolution ×2, ×4, ×8; every single kind
at severities 1, 3, 5; multi ×4 and ×8 (t2 degraded, or the run's date); and the ×4 settings
with t1 degraded."""


def _expand_one(item: str) -> list[DegradationSetting]:
    if item == "grid":
        return [DegradationSetting.parse(name) for name in GRID]
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
    severities 1..5, "resolution" and "multi" to scales 2, 4 and 8, "grid" to :data:`GRID`.
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
