"""Shared fixtures: the real sample data beside the checkout, and small-thread torch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # tests use tiny tensors; more threads only add overhead

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    override = os.environ.get("HICD_SHARED_DATA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory) -> Path:
    """Exported ONNX graphs go to a temporary cache, never the user's ~/.cache."""
    path = tmp_path_factory.mktemp("hicd-cache")
    previous = os.environ.get("HICD_CACHE_DIR")
    os.environ["HICD_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("HICD_CACHE_DIR", None)
    else:
        os.environ["HICD_CACHE_DIR"] = previous


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


def write_png(path: Path, array) -> Path:
    """Write a uint8 array (H×W or H×W×C) as an image file, creating its folder."""
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


def tiny_teacher_run():
    """A teacher module (8 decoder channels, no pretrained weights) and synthetic 32² data for
    a few-step ``fit_best`` run."""
    from hicd.training.config import NetworkConfig, OptimConfig
    from hicd.training.data import ChangeDataModule, SyntheticConfig
    from hicd.training.teacher import TeacherModule

    module = TeacherModule(
        network=NetworkConfig(pretrained=None, options={"decoder_channels": 8}),
        optim=OptimConfig(lr=1e-2, warmup_steps=0),
        crop_size=32,
    )
    data = ChangeDataModule(
        synthetic=SyntheticConfig(train=4, val=2, test=2, size=32),
        crop_size=32,
        batch_size=2,
        num_workers=0,
    )
    return module, data


def random_pair(seed: int, size=(32, 48), bands: int = 3, label_values=(0, 255)):
    """A random image pair and a label using ``label_values``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    h, w = size
    t1 = rng.integers(0, 256, (h, w, bands), dtype=np.uint8)
    t2 = rng.integers(0, 256, (h, w, bands), dtype=np.uint8)
    label = rng.choice(np.array(label_values, dtype=np.uint8), size=(h, w))
    return t1, t2, label


@pytest.fixture
def generic_dataset(tmp_path: Path):
    """Factory for a tiny generic-layout dataset: root/A, root/B, root/label, root/list."""

    def make(names=("a", "b", "c"), size=(32, 48), splits=None, suffix=".png") -> Path:
        root = tmp_path / "generic"
        for index, name in enumerate(names):
            t1, t2, label = random_pair(index, size)
            write_png(root / "A" / f"{name}{suffix}", t1)
            write_png(root / "B" / f"{name}{suffix}", t2)
            write_png(root / "label" / f"{name}.png", label)
        for split, members in (splits or {}).items():
            (root / "list").mkdir(parents=True, exist_ok=True)
            (root / "list" / f"{split}.txt").write_text("".join(f"{m}.png\n" for m in members))
        return root

    return make


def write_split_folders(
    root: Path, label_folder: str = "label", splits=("train", "val", "test"), size=(32, 48)
) -> Path:
    """The LEVIR-CD layout (``SPLIT/{A,B,label}/*.png``, or SV-CD's ``OUT`` labels): two pairs
    per split, named ``SPLIT_1`` and ``SPLIT_2``, labels 0/255."""
    for split_index, split in enumerate(splits):
        for index in range(2):
            t1, t2, label = random_pair(10 * split_index + index, size)
            name = f"{split}_{index + 1}.png"
            for folder, array in (("A", t1), ("B", t2), (label_folder, label)):
                write_png(root / split / folder / name, array)
    return root


def write_bandon(root: Path, size=(32, 48)) -> Path:
    """The BANDON layout: JPEG images under ``imgs/CITY/t1|t2``, labels 0/1/255 under
    ``labels_unch0ch1ig255/CITY/t1VSt2``, list files ``list_BANDON_{train,test}.txt`` (with
    auxiliary paths, which are not read)."""
    lines = []
    for index, city in enumerate(("bj", "sh", "wh")):
        name = f"L81_{index}"
        t1, t2, label = random_pair(index, size, label_values=(0, 1, 255))
        write_png(root / "imgs" / city / "t1" / f"{name}.jpg", t1)
        write_png(root / "imgs" / city / "t2" / f"{name}.jpg", t2)
        label_path = f"labels_unch0ch1ig255/{city}/t1VSt2/{name}.png"
        write_png(root / label_path, label)
        aux = f"building_labels/{city}/t1/{name}.png"
        lines.append(f"imgs/{city}/t1/{name}.jpg imgs/{city}/t2/{name}.jpg {label_path} {aux}")
    (root / "list_BANDON_train.txt").write_text("\n".join(lines[:2]) + "\n")
    (root / "list_BANDON_test.txt").write_text(lines[2] + "\n")
    return root


@pytest.fixture
def layout_dataset(tmp_path: Path):
    """Factory of a tiny dataset in a layout: ``layout_dataset("levir_cd")`` (also ``sv_cd``
    with PNG labels in ``OUT/``, and ``bandon``), written under tmp_path/LAYOUT."""

    def make(layout: str, size=(32, 48)) -> Path:
        root = tmp_path / layout
        if layout == "bandon":
            return write_bandon(root, size)
        return write_split_folders(root, "OUT" if layout == "sv_cd" else "label", size=size)

    return make


@pytest.fixture
def png_writer():
    """The ``write_png(path, array)`` helper."""
    return write_png


@pytest.fixture
def pair_maker():
    """The ``random_pair(seed, size, bands, label_values)`` helper."""
    return random_pair


def _terminate_hicd(argv: list[str], ready, timeout: float = 90) -> tuple[int, str]:
    """Run ``hicd argv`` in a subprocess, send SIGTERM once ``ready()``; (return code, stderr)."""
    import signal
    import subprocess
    import sys
    import time

    import hicd

    env = {**os.environ, "PYTHONPATH": str(Path(hicd.__file__).parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "hicd.cli.main", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the moment to interrupt never came"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, stderr


@pytest.fixture
def terminate_hicd():
    """``terminate_hicd(argv, ready)``: run ``hicd argv`` in a subprocess and SIGTERM it as soon
    as ``ready()`` is true; returns (return code, stderr)."""
    return _terminate_hicd


@contextmanager
def _umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def umask():
    """``with umask(0o027): ...`` runs the block under that umask, then restores the old one."""
    return _umask
