"""hicd inspect on a few real crops of ../shared/data (skipped where absent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hicd.degradations import Degrader
from hicd.inspection import inspect_arrays, nearest_scale

NAMES = ("test_7_0256_0512", "train_36_0512_0512", "val_27_0000_0256")


def _load(path) -> np.ndarray:
    return np.asarray(Image.open(path)).transpose(2, 0, 1).astype(np.float32) / 255


@pytest.mark.parametrize("name", NAMES)
def test_levir_crops(shared_data, name) -> None:
    folder = shared_data / "levir-cd-256"
    if not (folder / "A" / f"{name}.png").is_file():
        pytest.skip(f"{folder} lacks {name}")
    t1, t2 = _load(folder / "A" / f"{name}.png"), _load(folder / "B" / f"{name}.png")
    assert nearest_scale(inspect_arrays(t1, t2).relative_scale) == 1
    for setting, date, truth in (("resolution-x4", "t2", 4), ("resolution-x8", "t1", 8)):
        source = t2 if date == "t2" else t1
        degraded, _ = Degrader(setting, seed=0)(torch.from_numpy(source)[None], names=[name])
        degraded = (torch.round(degraded[0] * 255) / 255).numpy()
        pair = (t1, degraded) if date == "t2" else (degraded, t2)
        result = inspect_arrays(*pair)
        assert result.degraded_date == date
        assert nearest_scale(result.relative_scale) == truth
