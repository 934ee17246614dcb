"""The study's datasets and folds.

LEVIR-CD, leave one tile out: the six full 1024² tiles of ``levir-cd-1024`` and
``levir-cd-1024-extra`` are cut into 4 × 4 blocks of 256². Fold ``T`` tests on the whole tile
``T``; the blocks of the other five tiles train and validate (in each tile the 4 blocks with
``row + column + tile index ≡ 0 (mod 4)`` validate, the other 12 train: 60 training and 20
validation blocks). The 9 crops of ``levir-cd-256`` that lie outside every tile are a second
test set (``crops``) scored by every fold.

SZTAKI AirChange, k-fold by image: the 13 files, sorted by name, go to ``SZTAKI_FOLDS`` folds
round-robin (fold ``i`` tests names ``i, i + k, ...``, each whole); the other files are cut into
2 × 4 blocks, of which those with ``row + column + file index ≡ 0 (mod 4)`` validate.

Every block is written once per dataset under the study's work folder; each fold is a set of
list files ``list/<fold>-{train,val,test,crops}.txt`` over the same blocks, so no pixel of a
test image can reach a fold's training or validation except through a wrong list, which
:func:`check_fold` rules out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.shared import shared_data_dir
from hicd.atomic import write_text_atomic

REPO_ROOT = Path(__file__).resolve().parents[2]


LEVIR_TILES: dict[str, str] = {
    "test_7": "levir-cd-1024",
    "test_102": "levir-cd-1024",
    "test_1": "levir-cd-1024-extra",
    "test_3": "levir-cd-1024-extra",
    "test_4": "levir-cd-1024-extra",
    "test_101": "levir-cd-1024-extra",
}
"""The full LEVIR-CD tiles (one fold each, in this order) and their folder in shared/data."""
LEVIR_GRID = (4, 4)
LEVIR_CROPS = "levir-cd-256"

SZTAKI = "sztaki-airchange"
SZTAKI_GRID = (2, 4)
SZTAKI_FOLDS = 5
"""Folds of SZTAKI AirChange: 13 files round-robin, 3, 3, 3, 2 and 2 test files."""

BLOCK = re.compile(r"^(?P<stem>.+)_r(?P<row>\d+)c(?P<col>\d+)\.png$")


@dataclass(frozen=True)
class Fold:
    """One fold: the names (in the dataset folder) of each role."""

    dataset: str
    name: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    crops: tuple[str, ...] = ()

    def split(self, role: str) -> str:
        """The split name of ``role`` (``list/<split>.txt`` in the dataset folder)."""
        return f"{self.name}-{role}"

    @property
    def roles(self) -> dict[str, tuple[str, ...]]:
        return {"train": self.train, "val": self.val, "test": self.test, "crops": self.crops}


def _block_names(stem: str, index: int, grid: tuple[int, int]) -> dict[str, list[str]]:
    rows, cols = grid
    roles: dict[str, list[str]] = defaultdict(list)
    for r in range(rows):
        for c in range(cols):
            roles["val" if (r + c + index) % 4 == 0 else "train"].append(f"{stem}_r{r}c{c}.png")
    return roles


def _crops(data: Path) -> list[str]:
    """The LEVIR-CD crops outside every full tile (their names carry the tile: ``SPLIT_TILE_``)."""
    crops = []
    for image in sorted((data / LEVIR_CROPS / "A").glob("*.png")):
        tile = "_".join(image.stem.split("_")[:2])
        if tile not in LEVIR_TILES:
            crops.append(image.name)
    return crops


def levir_folds(data: Path | None = None) -> list[Fold]:
    """The six leave-one-tile-out folds of LEVIR-CD."""
    crops = tuple(_crops(data or shared_data_dir()))
    blocks = {tile: _block_names(tile, index, LEVIR_GRID) for index, tile in enumerate(LEVIR_TILES)}
    folds = []
    for held in LEVIR_TILES:
        others = [tile for tile in LEVIR_TILES if tile != held]
        folds.append(
            Fold(
                "levir",
                held,
                train=tuple(n for t in others for n in blocks[t]["train"]),
                val=tuple(n for t in others for n in blocks[t]["val"]),
                test=(f"{held}.png",),
                crops=crops,
            )
        )
    return folds


def _sztaki_names(data: Path) -> list[str]:
    return [p.name for p in sorted((data / SZTAKI / "A").glob("*.png"))]


def sztaki_folds(data: Path | None = None) -> list[Fold]:
    """The ``SZTAKI_FOLDS`` folds of SZTAKI AirChange (by image, round-robin over sorted names)."""
    names = _sztaki_names(data or shared_data_dir())
    blocks = {
        name: _block_names(Path(name).stem, index, SZTAKI_GRID) for index, name in enumerate(names)
    }
    folds = []
    for k in range(SZTAKI_FOLDS):
        test = names[k::SZTAKI_FOLDS]
        others = [n for n in names if n not in test]
        folds.append(
            Fold(
                "sztaki",
                f"k{k}",
                train=tuple(b for n in others for b in blocks[n]["train"]),
                val=tuple(b for n in others for b in blocks[n]["val"]),
                test=tuple(test),
            )
        )
    return folds


FOLDS = {"levir": levir_folds, "sztaki": sztaki_folds}


def folds_of(dataset: str, data: Path | None = None) -> list[Fold]:
    return FOLDS[dataset](data)


def fold_names(dataset: str) -> list[str]:
    """The folds' names, without reading any data."""
    if dataset == "levir":
        return list(LEVIR_TILES)
    return [f"k{k}" for k in range(SZTAKI_FOLDS)]


def source_of(dataset: str, name: str, data: Path | None = None) -> tuple[Path, str]:
    """The shared folder and file of a test image or crop ``name`` of ``dataset``."""
    data = data or shared_data_dir()
    if dataset == "sztaki":
        return data / SZTAKI, name
    stem = Path(name).stem
    if stem in LEVIR_TILES:
        return data / LEVIR_TILES[stem], name
    return data / LEVIR_CROPS, name


def block_window(dataset: str, name: str, data: Path | None = None) -> tuple[str, tuple[int, ...]]:
    """(source image stem, (top, left, bottom, right)) of a block, or of a whole image."""
    match = BLOCK.match(name)
    if match is None:
        source, file = source_of(dataset, name, data)
        width, height = Image.open(source / "A" / file).size
        stem = Path(name).stem
        if dataset == "levir" and stem not in LEVIR_TILES:  # a crop: SPLIT_TILE_ROW_COL
            split, tile, top, left = stem.split("_")
            return f"{split}_{tile}", (int(top), int(left), int(top) + height, int(left) + width)
        return stem, (0, 0, height, width)
    stem, r, c = match["stem"], int(match["row"]), int(match["col"])
    rows, cols = LEVIR_GRID if dataset == "levir" else SZTAKI_GRID
    file = f"{stem}.png"
    source, _ = source_of(dataset, file, data)
    width, height = Image.open(source / "A" / file).size
    top, bottom = r * height // rows, (r + 1) * height // rows
    left, right = c * width // cols, (c + 1) * width // cols
    return stem, (top, left, bottom, right)


def check_fold(fold: Fold, data: Path | None = None) -> None:
    """Raise ``ValueError`` if a training or validation window overlaps a test window (of the
    held-out images or the crops) or a validation window overlaps a training one."""

    def windows(names: tuple[str, ...]) -> list[tuple[str, tuple[int, ...]]]:
        return [block_window(fold.dataset, n, data) for n in names]

    def overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    held = windows(fold.test + fold.crops)
    learn = {"train": windows(fold.train), "val": windows(fold.val)}
    for role, boxes in learn.items():
        for stem, box in boxes:
            for test_stem, test_box in held:
                if stem == test_stem and overlap(box, test_box):
                    raise ValueError(
                        f"fold {fold.name}: {role} block of {stem} overlaps a test image"
                    )
    for stem, box in learn["val"]:
        if any(s == stem and overlap(box, b) for s, b in learn["train"]):
            raise ValueError(f"fold {fold.name}: validation block of {stem} overlaps training")


def _write_blocks(root: Path, source: Path, name: str, grid: tuple[int, int]) -> None:
    stem = Path(name).stem
    arrays = {f: np.asarray(Image.open(source / f / name)) for f in ("A", "B", "label")}
    height, width = arrays["label"].shape[:2]
    rows, cols = grid
    for r in range(rows):
        for c in range(cols):
            top, bottom = r * height // rows, (r + 1) * height // rows
            left, right = c * width // cols, (c + 1) * width // cols
            for folder, array in arrays.items():
                target = root / folder / f"{stem}_r{r}c{c}.png"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(array[top:bottom, left:right]).save(target)


def link_pair(root: Path, source: Path, name: str) -> None:
    """Link the A, B and label files of ``source``'s pair ``name`` into ``root`` (kept if there)."""
    for folder in ("A", "B", "label"):
        target = root / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(source / folder / name)


def build(dataset: str, root: Path, data: Path | None = None) -> list[Fold]:
    """Write ``dataset``'s blocks, links to its test images and every fold's lists under
    ``root`` (idempotent); return the folds."""
    data = data or shared_data_dir()
    folds = folds_of(dataset, data)
    if dataset == "levir":
        for tile, folder in LEVIR_TILES.items():
            _write_blocks(root, data / folder, f"{tile}.png", LEVIR_GRID)
    else:
        for name in _sztaki_names(data):
            _write_blocks(root, data / SZTAKI, name, SZTAKI_GRID)
    for fold in folds:
        for name in fold.test + fold.crops:
            link_pair(root, *source_of(dataset, name, data))
        for role, names in fold.roles.items():
            if names:
                text = "".join(f"{n}\n" for n in names)
                path = root / "list" / f"{fold.split(role)}.txt"
                if not path.is_file() or path.read_text() != text:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_text_atomic(path, text)
    return folds


UNLABELLED_SOURCES = ("dsifn-256", "egy-bcd-256", "sv-cd-256")
"""Imagery of the label-free runs: the A/B images of these sets, their labels never read. None
of them is a test image of any fold (they are other datasets)."""


def build_unlabelled(root: Path, data: Path | None = None) -> Path:
    """Link the A/B images of ``UNLABELLED_SOURCES`` (every split) into ``root/A``, ``root/B``,
    names prefixed by their set (idempotent)."""
    data = data or shared_data_dir()
    for source in UNLABELLED_SOURCES:
        for folder in sorted((data / source).glob("**/A")):
            for image in sorted(folder.iterdir()):
                partner = folder.parent / "B" / image.name
                split = folder.parent.relative_to(data / source).as_posix().replace("/", "_")
                name = (
                    f"{source}_{split}_{image.name}" if split != "." else f"{source}_{image.name}"
                )
                for date, path in (("A", image), ("B", partner)):
                    target = root / date / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if not target.exists():
                        target.symlink_to(path)
    return root
