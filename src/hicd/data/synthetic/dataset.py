"""The public API of the synthetic scenes: one pair, a dataset made on the fly, a written dataset."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from PIL import Image

from hicd.data.synthetic.scene import Scene
from hicd.errors import ConfigError

Size = int | tuple[int, int]


DEFAULT_SPLITS: Mapping[str, int] = MappingProxyType({"train": 64, "val": 16, "test": 16})


MIN_SIDE = 16


def generate_pair(
    seed: int, index: int = 0, size: Size = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One bi-temporal scene: t1 and t2 (uint8 H×W×3) and the change mask (uint8 H×W, 0/1).

    ``size`` is an int (square) or ``(H, W)``. The same ``(seed, index, size)`` always gives
    identical arrays.
    """
    h, w = parse_size(size)
    for option, value in (("seed", seed), ("index", index)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ConfigError(f"generate_pair: {option} must be a non-negative int, got {value!r}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(index)])))
    return Scene(rng, h, w).render()


class SyntheticChangeDataset(torch.utils.data.Dataset):
    """``num_pairs`` generated scenes, produced on the fly (nothing is stored).

    Items are dicts with ``t1`` and ``t2`` (float32 3×H×W in [0, 1], 8-bit levels), ``mask``
    (int64 H×W, 1 = change), ``name`` (``synthetic_{seed}_{i:05d}``) and ``levels`` (255 for
    both dates, as for the files ``write_synthetic_dataset`` writes).
    """

    def __init__(self, num_pairs: int, size: Size = 256, seed: int = 0) -> None:
        if isinstance(num_pairs, bool) or not isinstance(num_pairs, int) or num_pairs < 0:
            raise ConfigError(f"SyntheticChangeDataset: num_pairs must be >= 0, got {num_pairs!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"SyntheticChangeDataset: seed must be >= 0, got {seed!r}")
        self.num_pairs = num_pairs
        self.size = parse_size(size)
        self.seed = seed

    def __len__(self) -> int:
        return self.num_pairs

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.num_pairs:
            raise IndexError(
                f"SyntheticChangeDataset: index {i} out of range 0..{self.num_pairs - 1}"
            )
        t1, t2, mask = generate_pair(self.seed, i, self.size)
        return {
            "t1": to_tensor(t1),
            "t2": to_tensor(t2),
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "name": f"synthetic_{self.seed}_{i:05d}",
            "levels": torch.tensor([255.0, 255.0]),
        }


def split_indices(splits: Mapping[str, int]) -> dict[str, range]:
    """The scene indices of each split: consecutive and disjoint, in the order of ``splits``."""
    ranges, start = {}, 0
    for split, count in splits.items():
        ranges[split] = range(start, start + count)
        start += count
    return ranges


def write_synthetic_dataset(
    root: str | Path,
    splits: Mapping[str, int] = DEFAULT_SPLITS,
    size: Size = 256,
    seed: int = 0,
) -> Path:
    """Write generated pairs in the generic layout and return ``root``.

    Layout: ``root/A/<name>.png``, ``root/B/<name>.png``, ``root/label/<name>.png`` (0/255) and
    ``root/list/<split>.txt`` (one file name per line). Splits take consecutive, disjoint scene
    indices, so no scene is shared between splits; a split of 0 pairs gets no list file.
    """
    h, w = parse_size(size)
    for split, count in splits.items():
        if not split or "/" in split or "\\" in split:
            raise ConfigError(f"write_synthetic_dataset: invalid split name {split!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(
                f"write_synthetic_dataset: splits[{split!r}] must be >= 0, got {count!r}"
            )
    root = Path(root)
    folders = {key: root / key for key in ("A", "B", "label", "list")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for split, indices in split_indices(splits).items():
        names = []
        for index in indices:
            t1, t2, mask = generate_pair(seed, index, (h, w))
            name = f"synthetic_{seed}_{index:05d}.png"
            Image.fromarray(t1).save(folders["A"] / name, compress_level=1)
            Image.fromarray(t2).save(folders["B"] / name, compress_level=1)
            Image.fromarray(mask * np.uint8(255)).save(folders["label"] / name, compress_level=1)
            names.append(name)
        if names:
            (folders["list"] / f"{split}.txt").write_text("\n".join(names) + "\n")
    return root


def parse_size(size: Size) -> tuple[int, int]:
    """(H, W) of an int or (H, W) ``size``; ConfigError below ``MIN_SIDE`` px a side."""
    if isinstance(size, int | np.integer) and not isinstance(size, bool):
        h = w = int(size)
    elif (
        isinstance(size, tuple | list)
        and len(size) == 2
        and all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in size)
    ):
        h, w = int(size[0]), int(size[1])
    else:
        raise ConfigError(f"synthetic size must be an int or (H, W) pair of ints, got {size!r}")
    if min(h, w) < MIN_SIDE:
        raise ConfigError(f"synthetic size must be at least {MIN_SIDE} px per side, got {size!r}")
    return h, w


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 to float32 3×H×W in [0, 1]."""
    return torch.from_numpy(image).permute(2, 0, 1).contiguous().float().div_(255.0)
