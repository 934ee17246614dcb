"""hicd.data.synthetic: shapes, determinism, label statistics, nuisances, dataset and writer."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from hicd.data.synthetic import (
    SyntheticChangeDataset,
    generate_pair,
    split_indices,
    write_synthetic_dataset,
)
from hicd.data.synthetic.raster import subpixel_shift
from hicd.errors import ConfigError

PAIRS = [generate_pair(11, index, 128) for index in range(8)]


@pytest.mark.parametrize("size", [256, (97, 131), (64, 48), (16, 17)])
def test_shapes_and_dtypes(size):
    h, w = (size, size) if isinstance(size, int) else size
    t1, t2, mask = generate_pair(3, 1, size)
    assert t1.shape == t2.shape == (h, w, 3)
    assert mask.shape == (h, w)
    assert t1.dtype == t2.dtype == mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1}
    assert t1.flags.c_contiguous and t2.flags.c_contiguous
    assert t1.std() > 5 and t2.std() > 5  # a textured scene, not a flat fill


def test_same_arguments_give_identical_arrays():
    for size in (128, (97, 131)):
        first, second = generate_pair(5, 2, size), generate_pair(5, 2, size)
        for a, b in zip(first, second, strict=True):
            assert np.array_equal(a, b)


def test_seed_and_index_change_the_scene():
    base = generate_pair(5, 2, 64)[0]
    assert not np.array_equal(base, generate_pair(6, 2, 64)[0])
    assert not np.array_equal(base, generate_pair(5, 3, 64)[0])


def test_change_mask_is_a_sensible_minority():
    fractions = np.array([mask.mean() for _, _, mask in PAIRS])
    assert fractions.max() <= 0.2
    assert (fractions > 0).sum() >= len(PAIRS) // 2
    assert 0.01 < fractions.mean() < 0.15


def test_some_pairs_have_no_change_and_most_have_some():
    changed = [generate_pair(2, index, 64)[2].any() for index in range(40)]
    assert 0 < changed.count(False) < changed.count(True)


def test_unchanged_pixels_carry_nuisance_differences():
    for t1, t2, mask in PAIRS:
        diff = np.abs(t1.astype(np.int16) - t2.astype(np.int16)).mean(axis=2)
        assert diff[mask == 0].mean() > 2.0
        channel_shift = np.abs(t1.mean(axis=(0, 1)) - t2.mean(axis=(0, 1)))
        assert channel_shift.max() > 0.5


def test_changed_pixels_differ_more_than_unchanged():
    changed, unchanged = [], []
    for t1, t2, mask in PAIRS:
        diff = np.abs(t1.astype(np.int16) - t2.astype(np.int16)).mean(axis=2)
        unchanged.append(diff[mask == 0].mean())
        if mask.any():
            changed.append(diff[mask == 1].mean())
    assert changed
    assert np.mean(changed) > 1.5 * np.mean(unchanged)


def test_subpixel_shift_matches_bilinear_resampling():
    image = np.random.default_rng(0).random((3, 9, 13), dtype=np.float32)
    h, w = image.shape[1:]
    for dy, dx in [(0.3, -0.6), (-0.7, 0.2), (0.5, 0.5)]:
        shifted = image.copy()
        subpixel_shift(shifted, dy, dx)
        ys = np.clip(np.arange(h) - dy, 0, h - 1)
        xs = np.clip(np.arange(w) - dx, 0, w - 1)
        y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
        y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
        fy, fx = (ys - y0)[:, None], xs - x0
        rows = image[:, y0] * (1 - fy) + image[:, y1] * fy
        expected = rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx
        np.testing.assert_allclose(shifted, expected, atol=1e-5)


def test_dataset_items():
    dataset = SyntheticChangeDataset(3, size=(40, 56), seed=4)
    assert len(dataset) == 3
    item = dataset[2]
    assert set(item) == {"t1", "t2", "mask", "name", "levels"}
    assert item["levels"].tolist() == [255.0, 255.0]
    assert item["name"] == "synthetic_4_00002"
    for key in ("t1", "t2"):
        assert item[key].shape == (3, 40, 56) and item[key].dtype == torch.float32
        assert item[key].min() >= 0.0 and item[key].max() <= 1.0
    assert item["mask"].shape == (40, 56) and item["mask"].dtype == torch.int64
    t1, _, mask = generate_pair(4, 2, (40, 56))
    assert torch.equal(item["mask"], torch.from_numpy(mask.astype(np.int64)))
    assert torch.equal(
        (item["t1"] * 255).round().to(torch.uint8).permute(1, 2, 0), torch.from_numpy(t1)
    )
    with pytest.raises(IndexError):
        dataset[3]


def test_write_synthetic_dataset_layout(tmp_path):
    root = write_synthetic_dataset(tmp_path / "syn", {"train": 3, "val": 2, "test": 1}, (32, 40), 9)
    assert root == tmp_path / "syn"
    lists = {
        split: (root / "list" / f"{split}.txt").read_text().split()
        for split in ("train", "val", "test")
    }
    assert [len(names) for names in lists.values()] == [3, 2, 1]
    every = [name for names in lists.values() for name in names]
    assert len(set(every)) == len(every)  # splits never share a scene
    for folder in ("A", "B", "label"):
        assert sorted(p.name for p in (root / folder).iterdir()) == sorted(every)
    for name in every:
        label = np.array(Image.open(root / "label" / name))
        assert label.shape == (32, 40) and set(np.unique(label)) <= {0, 255}
        assert np.array(Image.open(root / "A" / name)).shape == (32, 40, 3)
    index = int(lists["val"][0].removesuffix(".png").rsplit("_", 1)[1])
    _, t2, mask = generate_pair(9, index, (32, 40))
    assert np.array_equal(np.array(Image.open(root / "B" / lists["val"][0])), t2)
    assert np.array_equal(np.array(Image.open(root / "label" / lists["val"][0])), mask * 255)


def test_written_layout_reads_as_generic_dataset(tmp_path):
    from hicd.data.dataset import BitemporalDataset

    root = write_synthetic_dataset(tmp_path, {"train": 2, "val": 1}, 32, 0)
    dataset = BitemporalDataset(root, split="train")
    assert len(dataset) == 2
    assert set(torch.unique(dataset[0]["mask"]).tolist()) <= {0, 1}


@pytest.mark.parametrize("size", [0, 8, (32,), (32, 32, 3), "256", 12.5, True])
def test_bad_sizes_are_rejected(size):
    with pytest.raises(ConfigError, match="size"):
        generate_pair(0, 0, size)


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="seed"):
        generate_pair(-1)
    with pytest.raises(ConfigError, match="num_pairs"):
        SyntheticChangeDataset(-2)
    with pytest.raises(ConfigError, match="train"):
        write_synthetic_dataset(tmp_path, {"train": -1})


@pytest.mark.parametrize(
    ("args", "digest"),
    [
        ((7, 3, (97, 131)), "ab369cbc2fb9cfe6f0221eeed8b587b71d0bccd308093af3054c99eb59388c36"),
        ((0, 0, 256), "9500d295bd3fe3a5067885e76cbe17a57788b80b88061e9ea71e780d1793f960"),
    ],
)
def test_pair_bytes_are_pinned(args, digest):
    """SHA-256 of t1, t2 and mask bytes, recorded when synthetic.py was one module."""
    sha = hashlib.sha256()
    for array in generate_pair(*args):
        sha.update(array.tobytes())
    assert sha.hexdigest() == digest


def test_split_indices_are_consecutive_and_disjoint():
    assert split_indices({"train": 3, "val": 0, "test": 2}) == {
        "train": range(0, 3),
        "val": range(3, 3),
        "test": range(3, 5),
    }
