"""Quality-difference simulator: resolution, single-kind, multi-degradation and mixed settings.

Torch-native and batched; applied to the images of one date. See docs/degradations.md.
"""

from hicd.degradations.degrader import Degrader
from hicd.degradations.kinds import KINDS, SEVERITY_TABLE, SINGLE_KINDS, DegradationKind
from hicd.degradations.settings import (
    DATES,
    EITHER_DATE,
    GRID,
    SCALES,
    SETTINGS,
    SEVERITIES,
    DegradationSetting,
    expand_settings,
)

__all__ = [
    "DATES",
    "EITHER_DATE",
    "GRID",
    "KINDS",
    "SCALES",
    "SETTINGS",
    "SEVERITIES",
    "SEVERITY_TABLE",
    "SINGLE_KINDS",
    "DegradationKind",
    "DegradationSetting",
    "Degrader",
    "expand_settings",
]
