"""Adapters for the real folder layouts of the datasets used in the paper."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from hicd.data.dataset import PairDataset
from hicd.data.pairing import PairFiles, pair_folders
from hicd.errors import DataError, check_choice


def _split_root(root: str | Path, split: str, splits: tuple[str, ...]) -> Path:
    check_choice(split, splits, "split", DataError)
    folder = Path(root) / split
    if not folder.is_dir():
        raise DataError(f"{folder}: split folder not found")
    return folder


class _SplitFolders(PairDataset):
    """A layout of one folder per split, each with ``A/``, ``B/`` and a label folder.

    ``split=None`` takes every split present, in the order of ``splits``.
    """

    splits: ClassVar[tuple[str, ...]] = ("train", "val", "test")
    label_folder: ClassVar[str] = "label"
    defaults: ClassVar[dict[str, Any]] = {}
    """Dataset options of the layout (``kwargs`` given override them)."""

    def __init__(self, root: str | Path, split: str | None = "train", **kwargs: Any) -> None:
        super().__init__(self.find_pairs(root, split), **{**self.defaults, **kwargs})

    @classmethod
    def present_splits(cls, root: str | Path) -> list[str]:
        """The splits of ``root`` (in the order of ``splits``); none is a DataError."""
        found = [split for split in cls.splits if (Path(root) / split).is_dir()]
        if not found:
            raise DataError(
                f"{root}: no split folder found (looked for {', '.join(cls.splits)}; the "
                f"{cls.__name__} layout is SPLIT/A, SPLIT/B, SPLIT/{cls.label_folder})"
            )
        return found

    @classmethod
    def find_pairs(
        cls, root: str | Path, split: str | None, labels: bool = True
    ) -> list[PairFiles]:
        """The pairs of ``split`` (None: of every split present), with labels or without."""
        pairs = []
        for name in cls.present_splits(root) if split is None else [split]:
            folder = _split_root(root, name, cls.splits)
            label = folder / cls.label_folder if labels else None
            pairs += pair_folders(folder / "A", folder / "B", label)
        return pairs


class LEVIRCD(_SplitFolders):
    """LEVIR-CD: ``root/{train,val,test}/{A,B,label}/*.png``, 1024×1024 tiles, labels 0/255."""


class SVCD(_SplitFolders):
    """SV-CD (CDD, season-varying): ``root/{train,val,test}/{A,B,OUT}/*.jpg``, labels 0/255.

    The labels are stored as JPEG, so they are binarised at 128 rather than checked for
    exact 0/255 values.
    """

    label_folder = "OUT"
    defaults: ClassVar[dict[str, Any]] = {"label_threshold": 128}


class BANDON(PairDataset):
    """BANDON: pairs defined by ``list_BANDON_{train,val,test,test_ood}.txt``.

    Each line holds paths relative to the root: t1 image, t2 image, change label, then
    auxiliary paths (ignored). Labels are 0 unchanged, 1 changed, 255 ignore. The list files
    are looked up in ``root`` and then ``root/list``; ``split=None`` takes every split whose
    list file is present.
    """

    splits: ClassVar[tuple[str, ...]] = ("train", "val", "test", "test_ood")
    defaults: ClassVar[dict[str, Any]] = {"ignore_value": 255}

    def __init__(self, root: str | Path, split: str | None = "train", **kwargs: Any) -> None:
        super().__init__(self.find_pairs(root, split), **{**self.defaults, **kwargs})

    @classmethod
    def present_splits(cls, root: str | Path) -> list[str]:
        """The splits with a list file (in the order of ``splits``); none is a DataError."""
        found = []
        for split in cls.splits:
            try:
                bandon_list_path(Path(root), split)
            except DataError:
                continue
            found.append(split)
        if not found:
            raise DataError(
                f"{root}: no BANDON list file found (list_BANDON_SPLIT.txt for SPLIT in "
                f"{', '.join(cls.splits)}, in {root} or {Path(root) / 'list'})"
            )
        return found

    @classmethod
    def find_pairs(
        cls, root: str | Path, split: str | None, labels: bool = True
    ) -> list[PairFiles]:
        """The pairs of ``split`` (None: of every split with a list file)."""
        root = Path(root)
        pairs = []
        for name in cls.present_splits(root) if split is None else [split]:
            check_choice(name, cls.splits, "split", DataError)
            pairs += read_bandon_list(root, bandon_list_path(root, name))
        return pairs if labels else [PairFiles(p.name, p.t1, p.t2) for p in pairs]


def bandon_list_path(root: Path, split: str) -> Path:
    """Where the BANDON list file of ``split`` is."""
    name = f"list_BANDON_{split}.txt"
    for candidate in (root / name, root / "list" / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"{root / name}: BANDON list file not found (also looked in {root / 'list'})")


def read_bandon_list(root: Path, list_path: Path) -> list[PairFiles]:
    """Parse a BANDON list file into pairs; every referenced file must exist."""
    pairs = []
    for number, line in enumerate(list_path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3:
            raise DataError(
                f"{list_path}:{number}: expected 't1 t2 label [auxiliary ...]', got {line!r}"
            )
        t1, t2, label = (root / field for field in fields[:3])
        for path in (t1, t2, label):
            if not path.is_file():
                raise DataError(f"{path}: missing file listed in {list_path}:{number}")
        name = "_".join(Path(fields[2]).with_suffix("").parts[-3:])
        pairs.append(PairFiles(name=name, t1=t1, t2=t2, label=label))
    if not pairs:
        raise DataError(f"{list_path}: list file is empty")
    return pairs
