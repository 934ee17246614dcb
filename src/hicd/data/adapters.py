"""Adapters for the real folder layouts of the datasets used in the paper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hicd.data.dataset import PairDataset
from hicd.data.pairing import PairFiles, pair_folders
from hicd.errors import DataError


def _split_root(root: str | Path, split: str, splits: tuple[str, ...]) -> Path:
    if split not in splits:
        raise DataError(f"split must be one of {', '.join(splits)}; got {split!r}")
    folder = Path(root) / split
    if not folder.is_dir():
        raise DataError(f"{folder}: split folder not found")
    return folder


class LEVIRCD(PairDataset):
    """LEVIR-CD: ``root/{train,val,test}/{A,B,label}/*.png``, 1024×1024 tiles, labels 0/255."""

    splits = ("train", "val", "test")

    def __init__(self, root: str | Path, split: str = "train", **kwargs: Any) -> None:
        folder = _split_root(root, split, self.splits)
        super().__init__(pair_folders(folder / "A", folder / "B", folder / "label"), **kwargs)


class SVCD(PairDataset):
    """SV-CD (CDD, season-varying): ``root/{train,val,test}/{A,B,OUT}/*.jpg``, labels 0/255.

    The labels are stored as JPEG, so they are binarised at 128 rather than checked for
    exact 0/255 values.
    """

    splits = ("train", "val", "test")

    def __init__(self, root: str | Path, split: str = "train", **kwargs: Any) -> None:
        folder = _split_root(root, split, self.splits)
        kwargs.setdefault("label_threshold", 128)
        super().__init__(pair_folders(folder / "A", folder / "B", folder / "OUT"), **kwargs)


class BANDON(PairDataset):
    """BANDON: pairs defined by ``list_BANDON_{train,val,test,test_ood}.txt``.

    Each line holds paths relative to the root: t1 image, t2 image, change label, then
    auxiliary paths (ignored). Labels are 0 unchanged, 1 changed, 255 ignore. The list files
    are looked up in ``root`` and then ``root/list``.
    """

    splits = ("train", "val", "test", "test_ood")

    def __init__(self, root: str | Path, split: str = "train", **kwargs: Any) -> None:
        if split not in self.splits:
            raise DataError(f"split must be one of {', '.join(self.splits)}; got {split!r}")
        root = Path(root)
        kwargs.setdefault("ignore_value", 255)
        super().__init__(read_bandon_list(root, bandon_list_path(root, split)), **kwargs)


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
