"""The Lightning data module: any supported dataset kind, training crops, whole-image evaluation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from hicd.data import LAYOUTS, BitemporalDataset, collate_samples, training_transform
from hicd.data.synthetic import SyntheticChangeDataset, split_indices
from hicd.errors import ConfigError, DataError, check_choice, cwd_note
from hicd.training.config import as_config

Sample = dict[str, Any]
Transform = Callable[[Sample], Sample]

FILE_DATASETS = LAYOUTS
"""Dataset kinds read from ``root`` (``hicd.data.LAYOUTS``, the layouts every command reads):
each is called as ``cls(root, split, **dataset_options)``."""

DATASET_KINDS = ("synthetic", *FILE_DATASETS)

LABELLED, UNLABELLED = "labelled", "unlabelled"
"""Keys of a training batch when ``data.unlabelled_root`` is set: ``{LABELLED: batch,
UNLABELLED: batch}``."""
UNLABELLED_SPLIT = "train"
"""``unlabelled_root/list/train.txt``, if present, restricts the unlabelled pairs to its names."""
UNLABELLED_OPTIONS = ("bands", "value_scale")
"""The ``dataset_options`` that also apply to the unlabelled pairs (how their pixels are read)."""
UNLABELLED_LAYOUT = (
    "data.unlabelled_root takes A/ and B/ with one image of each name in both, the two of a "
    "pair the same size (list/train.txt, if present, picks the names)"
)


@dataclass
class SyntheticConfig:
    """Generated scenes (``hicd.data.synthetic``): pairs per split, image size and seed.

    Splits take consecutive scene indices (train, then val, then test), as
    ``write_synthetic_dataset`` does, so no scene is in two splits.
    """

    train: int = 64
    val: int = 16
    test: int = 16
    size: int = 256
    seed: int = 0


class _Repeated(Dataset):
    """Each sample of ``dataset`` ``times`` times per epoch (a fresh random crop each time)."""

    def __init__(self, dataset: Dataset, times: int) -> None:
        self.dataset, self.times = dataset, times

    def __len__(self) -> int:
        return len(self.dataset) * self.times

    def __getitem__(self, index: int) -> Sample:
        return self.dataset[index % len(self.dataset)]


class _Cached(Dataset):
    """Keeps every sample of ``dataset`` in memory after its first read (per loader process)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.samples: dict[int, Sample] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        if index not in self.samples:
            self.samples[index] = self.dataset[index]
        return self.samples[index]


class _Draws(Sampler[int]):
    """``count`` random indices of ``size`` samples per epoch: shuffled passes over all of them,
    cut at ``count`` (every sample once before any twice, within an epoch)."""

    def __init__(self, size: int, count: int) -> None:
        self.size, self.count = size, count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[int]:
        # Seeded from torch's global generator, as RandomSampler is (seed_everything fixes it).
        seed = int(torch.empty((), dtype=torch.int64).random_().item())
        generator = torch.Generator().manual_seed(seed)
        draws: list[int] = []
        while len(draws) < self.count:
            draws += torch.randperm(self.size, generator=generator).tolist()
        return iter(draws[: self.count])


class _Transformed(Dataset):
    """Applies ``transform`` to the samples of ``dataset``."""

    def __init__(self, dataset: Dataset, transform: Transform) -> None:
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        return self.transform(self.dataset[index])


class ChangeDataModule(LightningDataModule):
    """Training crops and whole evaluation images of one dataset.

    Training samples go through ``training_transform`` (random shared crop, flips, 90° rotations,
    optional date swap). Validation and test samples are whole images, batched by
    ``eval_batch_size`` (images of one batch must share a size); the module evaluates them in
    ``eval_tile`` windows. Images are float [0, 1]; normalisation happens inside the model.

    Args:
        kind: ``synthetic`` (generated in memory, no files), ``generic`` (``root/A``, ``B``,
            ``label``, ``list/SPLIT.txt``), ``levir_cd``, ``bandon`` or ``sv_cd``.
        root: dataset folder (unused by ``synthetic``).
        train_split, val_split, test_split: split names; the validation split must differ from
            the test split.
        crop_size: side of the training crops (also the default prediction tile).
        batch_size: training crops per batch (per device).
        eval_batch_size: whole images per validation/test batch.
        eval_tile: window side for validation/test; None runs each whole image at once.
        num_workers: data-loading processes.
        flips, rot90: random flips and 90° rotations in training.
        date_swap: probability of swapping the two dates of a training sample.
        crops_per_image: random training crops drawn from each image per epoch (a few large
            tiles then give full batches).
        cache_images: keep the decoded training images in memory (for a few large tiles
            whose decoding would dominate each step).
        synthetic: pairs per split, image size and seed of the ``synthetic`` kind.
        dataset_options: further keyword arguments of the dataset class (e.g. ``bands``,
            ``value_scale``, ``ignore_value``).
        unlabelled_root: a folder of unlabelled pairs for label-free distillation (students
            only): ``A/`` and ``B/`` with the same file names, no ``label/``; an optional
            ``list/train.txt`` restricts the names. Each training step then gets a batch
            ``{"labelled": ..., "unlabelled": ...}`` (Lightning's ``CombinedLoader``, mode
            ``min_size``): the unlabelled batch has the same size and training transform
            (crops, flips, rotations, date swap; cached with ``cache_images``), and an epoch
            stays one pass over the labelled crops: the unlabelled loader draws as many crops
            per epoch, in shuffled passes over its pairs. Validation and test are unchanged.
    """

    def __init__(
        self,
        kind: str = "synthetic",
        root: str | None = None,
        train_split: str = "train",
        val_split: str = "val",
        test_split: str = "test",
        crop_size: int = 256,
        batch_size: int = 8,
        eval_batch_size: int = 1,
        eval_tile: int | None = None,
        num_workers: int = 4,
        flips: bool = True,
        rot90: bool = True,
        date_swap: float = 0.0,
        crops_per_image: int = 1,
        cache_images: bool = False,
        synthetic: SyntheticConfig | None = None,
        dataset_options: dict[str, Any] | None = None,
        unlabelled_root: str | None = None,
    ) -> None:
        super().__init__()
        check_choice(kind, DATASET_KINDS, "data.kind")
        if kind != "synthetic" and not root:
            raise ConfigError(f"data.root: dataset kind {kind!r} needs the dataset folder")
        if val_split == test_split:
            raise ConfigError(
                f"data.val_split: validation must not use the test split ({test_split!r})"
            )
        for option, value in (
            ("crop_size", crop_size),
            ("batch_size", batch_size),
            ("crops_per_image", crops_per_image),
        ):
            if value <= 0:
                raise ConfigError(f"data.{option}: must be > 0, got {value}")
        self.kind = kind
        self.root = root
        self.splits = {"train": train_split, "val": val_split, "test": test_split}
        self.crop_size = crop_size
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.eval_tile = eval_tile
        self.num_workers = num_workers
        self.train_transform = training_transform(crop_size, flips, rot90, date_swap)
        self.crops_per_image = crops_per_image
        self.cache_images = cache_images
        self.synthetic = as_config(SyntheticConfig, synthetic, "data.synthetic")
        self.dataset_options = dict(dataset_options or {})
        if unlabelled_root is not None:
            check_unlabelled_root(unlabelled_root)
        self.unlabelled_root = unlabelled_root
        self.datasets: dict[str, Dataset] = {}

    def dataset(self, role: str) -> Dataset:
        """The dataset of ``role`` (``train``, ``val``, ``test`` or ``unlabelled``), built on
        first use."""
        if role not in self.datasets:
            dataset = self._build(role)
            if role in ("train", UNLABELLED):
                if self.cache_images:
                    dataset = _Cached(dataset)
                if role == "train" and self.crops_per_image > 1:
                    dataset = _Repeated(dataset, self.crops_per_image)
                dataset = _Transformed(dataset, self.train_transform)
            self.datasets[role] = dataset
        return self.datasets[role]

    def _build(self, role: str) -> Dataset:
        if role == UNLABELLED:
            return self._build_unlabelled()
        split = self.splits[role]
        if self.kind != "synthetic":
            return FILE_DATASETS[self.kind](self.root, split, **self.dataset_options)
        counts = {
            "train": self.synthetic.train,
            "val": self.synthetic.val,
            "test": self.synthetic.test,
        }
        check_choice(split, counts, f"data.{role}_split")
        scenes = SyntheticChangeDataset(
            sum(counts.values()), self.synthetic.size, self.synthetic.seed
        )
        return Subset(scenes, split_indices(counts)[split])

    def _build_unlabelled(self) -> BitemporalDataset:
        """The pairs of ``unlabelled_root`` (masks all 255), checked: partners and sizes."""
        root = Path(self.unlabelled_root)
        split = UNLABELLED_SPLIT if (root / "list" / f"{UNLABELLED_SPLIT}.txt").is_file() else None
        options = {k: v for k, v in self.dataset_options.items() if k in UNLABELLED_OPTIONS}
        try:
            dataset = BitemporalDataset(root, split, labels=False, **options)
            dataset.check_sizes()
        except DataError as error:
            raise ConfigError(f"data.unlabelled_root: {error}; {UNLABELLED_LAYOUT}") from error
        return dataset

    def setup(self, stage: str) -> None:
        roles = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}
        for role in roles.get(stage, ()):
            self.dataset(role)
        if stage == "fit" and self.unlabelled_root is not None:
            self.dataset(UNLABELLED)

    def train_dataloader(self) -> DataLoader | CombinedLoader:
        """Labelled training crops; with ``unlabelled_root``, ``{"labelled": batch,
        "unlabelled": batch}`` per step (one epoch: one pass over the labelled crops)."""
        dataset = self.dataset("train")
        # A last batch of one crop would break BatchNorm.
        drop_last = len(dataset) > self.batch_size
        labelled = self._loader(dataset, self.batch_size, shuffle=True, drop_last=drop_last)
        if self.unlabelled_root is None:
            return labelled
        unlabelled = self.dataset(UNLABELLED)
        # As many unlabelled crops per epoch as labelled ones, so both loaders have one length
        # and min_size never cuts the labelled pass short (nor cycles a stale iterator).
        draws = _Draws(len(unlabelled), len(dataset))
        unlabelled_loader = self._loader(
            unlabelled, self.batch_size, sampler=draws, drop_last=drop_last
        )
        return CombinedLoader({LABELLED: labelled, UNLABELLED: unlabelled_loader}, "min_size")

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.dataset("val"))

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self.dataset("test"))

    def _eval_loader(self, dataset: Dataset) -> DataLoader:
        sampler = None
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            # Each image exactly once over all processes (Lightning's default sampler pads with
            # repeats), so metrics summed across processes count every pixel once.
            from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

            sampler = UnrepeatedDistributedSampler(
                dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
            )
        return self._loader(dataset, self.eval_batch_size, sampler=sampler)

    def _loader(self, dataset: Dataset, batch_size: int, **kwargs: Any) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            num_workers=self.num_workers,
            collate_fn=collate_samples,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            **kwargs,
        )


def check_unlabelled_root(root: str) -> None:
    """Raise ``ConfigError`` when ``data.unlabelled_root`` is missing or holds labels."""
    path = Path(root)
    if not path.is_dir():
        raise ConfigError(
            f"data.unlabelled_root: {root} not found{cwd_note(root)}; give a folder with A/ and "
            "B/ (unlabelled pairs), or leave the option out"
        )
    if (path / "label").exists():
        raise ConfigError(
            f"data.unlabelled_root: {root} has labels ({path / 'label'}): give labelled pairs "
            "through data.root; unlabelled_root takes A/ and B/ only"
        )
