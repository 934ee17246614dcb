"""Where the benchmarks find the shared sample data and the ImageNet backbone weights: the
variables the library and the tests use.

* data: ``$HICD_SHARED_DATA``, else ``shared/data`` beside the checkout (``../shared/data``
  seen from the repository root), as ``tests/conftest.py`` finds it;
* weights: ``hicd.models.pretrained.shared_backbone_weights`` (``$HICD_SHARED_WEIGHTS``, else
  ``../shared/weights`` beside the checkout, else torch's hub cache).

Benchmarks that import this module run from the repository root as ``python -m benchmarks.NAME``.
"""

from __future__ import annotations

import os
from pathlib import Path

from hicd.models.pretrained import shared_backbone_weights

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "HICD_SHARED_DATA"

__all__ = ["DATA_ENV", "REPO_ROOT", "shared_backbone_weights", "shared_data_dir"]


def shared_data_dir() -> Path:
    """``$HICD_SHARED_DATA``, else ``shared/data`` beside the checkout (as the tests find it)."""
    override = os.environ.get(DATA_ENV)
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"
