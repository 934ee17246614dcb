"""Bi-temporal change-detection datasets over paired files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from hicd.data.io import (
    IGNORE_INDEX,
    ValueScale,
    date_scales,
    read_image,
    read_image_size,
    read_label,
    scaled_image,
)
from hicd.data.pairing import PairFiles, index_folder, pair_folders, read_name_list
from hicd.degradations import DATES, DegradationSetting, Degrader
from hicd.errors import DataError, check_choice

Sample = dict[str, Any]
Date = Literal["t1", "t2"]


class PairDataset(Dataset[Sample]):
    """Reads and checks the pairs listed in ``pairs``; the base of every dataset in hicd.

    A sample is a dict with ``t1`` and ``t2`` (float32 C×H×W in [0, 1]), ``mask`` (int64 H×W:
    0 no change, 1 change, 255 ignore; all 255 for an unlabelled pair), ``name`` and ``levels``
    (float32 [t1, t2]: the pixel value that maps to 1.0 for integer images, 0 for float ones;
    degraded images are rounded to these levels wherever they are made). When a degradation is
    applied, ``degradation`` holds its record and ``degraded_date`` the date degraded (the
    setting's own date if it names one, ``mixed``: drawn per pair, else ``degraded_date``).

    Args:
        pairs: the files of each sample.
        transform: called on each sample dict after reading (and degrading).
        bands: expected number of bands of both dates; None accepts any count equal in both.
        value_scale: pixel value that maps to 1.0, for both dates or per date (t1, t2);
            default: the rule of ``hicd.data.io`` (255 for uint8, the checked type's maximum
            for other integers, floats in [0, 1]).
        ignore_value: label value to ignore (255 in BANDON).
        label_threshold: binarise lossy labels (values >= threshold are change).
        degradation: a ``hicd.degradations.DegradationSetting`` to apply to ``degraded_date``.
        degraded_date: which date is low quality, for settings that name no date.
        degradation_seed: seed of the deterministic degradation (None draws fresh parameters).
    """

    def __init__(
        self,
        pairs: Sequence[PairFiles],
        transform: Callable[[Sample], Sample] | None = None,
        bands: int | None = None,
        value_scale: ValueScale = None,
        ignore_value: int | None = None,
        label_threshold: int | None = None,
        degradation: DegradationSetting | str | None = None,
        degraded_date: Date = "t2",
        degradation_seed: int | None = 0,
    ) -> None:
        if not pairs:
            raise DataError("no image pairs found")
        check_choice(degraded_date, DATES, "degraded_date", DataError)
        self.pairs = list(pairs)
        self.transform = transform
        self.bands = bands
        self.value_scale = value_scale
        self._scales = dict(zip(DATES, date_scales(value_scale, "value_scale"), strict=True))
        self.ignore_value = ignore_value
        self.label_threshold = label_threshold
        self.degraded_date = degraded_date
        self.degradation = degradation
        self._degrader = _make_degrader(degradation, degradation_seed)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def names(self) -> list[str]:
        """Sample names in dataset order."""
        return [pair.name for pair in self.pairs]

    def __getitem__(self, index: int) -> Sample:
        pair = self.pairs[index]
        sample = self.read_pair(pair)
        if self._degrader is not None:
            t1, t2, records = self._degrader.pair(
                sample["t1"][None],
                sample["t2"][None],
                names=[pair.name],
                levels=sample["levels"],
                date=self.degraded_date,
            )
            sample["t1"], sample["t2"] = t1[0], t2[0]
            sample["degradation"] = records[0]
            sample["degraded_date"] = self._degrader.date_of(records[0], self.degraded_date)
        if self.transform is not None:
            sample = self.transform(sample)
        return sample

    def check_sizes(self) -> None:
        """Check that the two images of every pair have one size, from the files' headers (no
        pixels decoded); the error names the first file that differs from its partner."""
        for pair in self.pairs:
            (h1, w1), (h2, w2) = read_image_size(pair.t1), read_image_size(pair.t2)
            if (h1, w1) != (h2, w2):
                raise DataError(
                    f"{pair.t2}: size {w2}×{h2} differs from its partner {pair.t1} ({w1}×{h1})"
                )

    def read_pair(self, pair: PairFiles) -> Sample:
        """Read one pair from disk and check that its parts agree."""
        arrays = {date: read_image(getattr(pair, date)) for date in ("t1", "t2")}
        for date, array in arrays.items():
            path = getattr(pair, date)
            if self.bands is not None and array.shape[2] != self.bands:
                raise DataError(f"{path}: expected {self.bands} bands, found {array.shape[2]}")
        (h1, w1, c1), (h2, w2, c2) = arrays["t1"].shape, arrays["t2"].shape
        if (h1, w1) != (h2, w2):
            raise DataError(
                f"{pair.t2}: size {w2}×{h2} differs from its partner {pair.t1} ({w1}×{h1})"
            )
        if c1 != c2:
            raise DataError(f"{pair.t2}: {c2} bands but its partner {pair.t1} has {c1}")
        if pair.label is not None:
            mask = read_label(pair.label, self.ignore_value, self.label_threshold)
            if tuple(mask.shape) != (h1, w1):
                raise DataError(
                    f"{pair.label}: label size {mask.shape[1]}×{mask.shape[0]} differs from "
                    f"its image {pair.t1} ({w1}×{h1})"
                )
        else:
            mask = torch.full((h1, w1), IGNORE_INDEX, dtype=torch.int64)
        images, levels = {}, []
        for date, array in arrays.items():
            images[date], scale = scaled_image(array, getattr(pair, date), self._scales[date])
            levels.append(scale if np.issubdtype(array.dtype, np.integer) else 0.0)
        return {
            "t1": images["t1"],
            "t2": images["t2"],
            "mask": mask,
            "name": pair.name,
            "levels": torch.tensor(levels, dtype=torch.float32),
        }


def _make_degrader(setting: DegradationSetting | str | None, seed: int | None) -> Degrader | None:
    if setting is None:
        return None
    if isinstance(setting, str):
        setting = DegradationSetting.parse(setting)
    if setting.setting == "clean":
        return None
    return Degrader(setting, seed=seed)


class BitemporalDataset(PairDataset):
    """The generic layout: ``root/A``, ``root/B``, ``root/label``, optional ``root/list/SPLIT.txt``.

    Files pair by name (extension ignored). ``split`` selects the names in ``list/SPLIT.txt``;
    without it every file is used and each must have its partners. ``labels=False`` reads pairs
    without labels (their mask is all 255). ``t2_dir`` replaces the t2 images by the files of
    another folder with the same names, e.g. a released degraded test set.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        labels: bool = True,
        t2_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        pairs = self.find_pairs(root, split, labels)
        if t2_dir is not None:
            pairs = replace_t2(pairs, Path(t2_dir))
        self.root = Path(root)
        self.split = split
        super().__init__(pairs, **kwargs)

    defaults: ClassVar[dict[str, Any]] = {}
    """Dataset options of the layout (none: the generic layout says nothing of its labels)."""

    @classmethod
    def present_splits(cls, root: str | Path) -> list[str | None]:
        """``[None]``: the generic layout's pairs are not kept apart by split folders."""
        return [None]

    @classmethod
    def find_pairs(
        cls, root: str | Path, split: str | None, labels: bool = True
    ) -> list[PairFiles]:
        """The pairs of ``root`` (those named in ``list/SPLIT.txt`` with ``split``)."""
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{root}: dataset folder not found")
        names = read_name_list(root / "list" / f"{split}.txt") if split else None
        return pair_folders(root / "A", root / "B", root / "label" if labels else None, names)


def replace_t2(pairs: Sequence[PairFiles], folder: Path) -> list[PairFiles]:
    """Swap every pair's t2 for the file of ``folder`` with the same name (a degraded test set)."""
    index = index_folder(folder)
    missing = [pair for pair in pairs if Path(pair.t2).stem not in index]
    if missing:
        raise DataError(
            f"{folder}: no replacement for t2 image {missing[0].t2.name}"
            f" ({len(missing)} of {len(pairs)} missing)"
        )
    return [PairFiles(pair.name, pair.t1, index[Path(pair.t2).stem], pair.label) for pair in pairs]
