"""Tiny checkpoints and tiny generic-layout datasets for the evaluation tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hicd.models import create_model
from hicd.models.checkpoint import CheckpointInfo, save_model_checkpoint


@contextmanager
def single_thread() -> Iterator[None]:
    """Tiny convolutions run fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


def write_checkpoint(path: Path, seed: int) -> Path:
    """A tiny random-init model whose BatchNorm statistics are fitted to random images, so its
    predictions vary over the image instead of being one constant class."""
    torch.manual_seed(seed)
    model = create_model("siam_fpn", backbone="tv_mobilenet_v2", decoder_channels=16)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64))
    info = CheckpointInfo(model_config=model.config, tile_size=64)
    return save_model_checkpoint(path, model.eval(), info)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> list[Path]:
    """Two checkpoint files, ``alpha.ckpt`` and ``beta.ckpt``."""
    folder = tmp_path_factory.mktemp("checkpoints")
    with single_thread():
        return [write_checkpoint(folder / f"{name}.ckpt", seed) for seed, name in enumerate("ab")]


def write_pair(
    root: Path, name: str, size: tuple[int, int], boxes: Sequence[tuple[int, int, int, int]], seed
) -> None:
    """t1 random texture; t2 = t1 with ``boxes`` (top, left, height, width) repainted; label
    0/255 marking the boxes."""
    rng = np.random.default_rng(seed)
    height, width = size
    t1 = rng.integers(40, 200, (height, width, 3), dtype=np.uint8)
    t2 = t1.copy()
    label = np.zeros((height, width), dtype=np.uint8)
    for top, left, box_h, box_w in boxes:
        t2[top : top + box_h, left : left + box_w] = rng.integers(0, 256, 3, dtype=np.uint8)
        label[top : top + box_h, left : left + box_w] = 255
    for folder, array in (("A", t1), ("B", t2), ("label", label)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(root / folder / f"{name}.png")


@pytest.fixture
def dataset(tmp_path) -> Path:
    """Three 64×80 pairs with different amounts of change."""
    root = tmp_path / "data"
    write_pair(root, "few", (64, 80), [(10, 10, 6, 8)], seed=0)
    write_pair(root, "many", (64, 80), [(0, 0, 40, 50), (44, 60, 20, 20)], seed=1)
    write_pair(root, "some", (64, 80), [(20, 30, 16, 24)], seed=2)
    return root
