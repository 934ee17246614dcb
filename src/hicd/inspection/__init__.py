"""Measuring the quality gap of a bi-temporal pair from its pixels (``hicd inspect``).

Relative effective resolution, noise, JPEG quality, which date is degraded and the nearest named
setting; and whether a checkpoint was trained for such a gap. See docs/inspection.md.
"""

from hicd.inspection.gap import accepts, classify, nearest_scale, parse_trained
from hicd.inspection.pair import (
    DateQuality,
    PairInspection,
    inspect_arrays,
    inspect_dataset,
    inspect_pair,
)

__all__ = [
    "DateQuality",
    "PairInspection",
    "accepts",
    "classify",
    "inspect_arrays",
    "inspect_dataset",
    "inspect_pair",
    "nearest_scale",
    "parse_trained",
]
