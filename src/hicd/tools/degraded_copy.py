"""Deprecated alias of :mod:`hicd.data.degraded_copy`, kept for one release.

Import ``write_degraded_dataset`` and ``DegradeOptions`` from ``hicd.data.degraded_copy``.
"""

from __future__ import annotations

import warnings

from hicd.data.degraded_copy import (
    MANIFEST,
    MANIFEST_KEYS,
    DegradeOptions,
    check_output_folder,
    write_degraded_dataset,
)
from hicd.data.io import write_image_like as write_like

__all__ = [
    "MANIFEST",
    "MANIFEST_KEYS",
    "DegradeOptions",
    "check_output_folder",
    "write_degraded_dataset",
    "write_like",
]

warnings.warn(
    "hicd.tools.degraded_copy moved to hicd.data.degraded_copy; this alias will be removed in "
    "the next release",
    DeprecationWarning,
    stacklevel=2,
)
