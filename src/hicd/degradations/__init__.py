"""Quality-difference simulator: resolution, single-kind and multi-degradation settings.

Torch-native and batched; applied to the images of one date. See docs/degradations.md.
"""

from hicd.degradations.degrader import Degrader
from hicd.degradations.settings import (
    SCALES,
    SETTINGS,
    SEVERITIES,
    SINGLE_KINDS,
    DegradationSetting,
    expand_settings,
)
from hicd.degradations.tables import SEVERITY_TABLE

__all__ = [
    "SCALES",
    "SETTINGS",
    "SEVERITIES",
    "SEVERITY_TABLE",
    "SINGLE_KINDS",
    "DegradationSetting",
    "Degrader",
    "expand_settings",
]
