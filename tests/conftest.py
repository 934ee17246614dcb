"""Shared fixtures: the real sample data beside the checkout, and small-thread torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    override = os.environ.get("HICD_SHARED_DATA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$HICD_SHARED_DATA``); tests that need it skip where it is absent."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real sample data not found at {path} (set HICD_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def mobilenet_weights() -> Path:
    """The ImageNet MobileNetV2 checkpoint in ``../shared/weights``."""
    path = _shared_data_dir().parent / "weights" / "mobilenet_v2-b0353104.pth"
    if not path.is_file():
        pytest.skip(f"MobileNetV2 weights not found at {path}")
    return path
