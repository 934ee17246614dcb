"""The Lightning data module: any supported dataset kind, training crops, whole-image evaluation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Subset

from hicd.data import BANDON, LEVIRCD, SVCD, BitemporalDataset, collate_samples, training_transform
from hicd.data.synthetic import SyntheticChangeDataset, split_indices
from hicd.errors import ConfigError
from hicd.training.config import as_config

Sample = dict[str, Any]
Transform = Callable[[Sample], Sample]

FILE_DATASETS: dict[str, Callable[..., Dataset]] = {
    "generic": BitemporalDataset,
    "levir_cd": LEVIRCD,
    "bandon": BANDON,
    "sv_cd": SVCD,
}
"""Dataset kinds read from ``root``: each is called as ``cls(root, split, **dataset_options)``."""

DATASET_KINDS = ("synthetic", *FILE_DATASETS)


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
    ) -> None:
        super().__init__()
        if kind not in DATASET_KINDS:
            raise ConfigError(f"data.kind: {kind!r} is not one of {', '.join(DATASET_KINDS)}")
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
        self.datasets: dict[str, Dataset] = {}

    def dataset(self, role: str) -> Dataset:
        """The dataset of ``role`` (``train``, ``val`` or ``test``), built on first use."""
        if role not in self.datasets:
            dataset = self._build(role)
            if role == "train":
                if self.cache_images:
                    dataset = _Cached(dataset)
                if self.crops_per_image > 1:
                    dataset = _Repeated(dataset, self.crops_per_image)
                dataset = _Transformed(dataset, self.train_transform)
            self.datasets[role] = dataset
        return self.datasets[role]

    def _build(self, role: str) -> Dataset:
        split = self.splits[role]
        if self.kind != "synthetic":
            return FILE_DATASETS[self.kind](self.root, split, **self.dataset_options)
        counts = {
            "train": self.synthetic.train,
            "val": self.synthetic.val,
            "test": self.synthetic.test,
        }
        if split not in counts:
            raise ConfigError(
                f"data.{role}_split: synthetic splits are {', '.join(counts)}, got {split!r}"
            )
        scenes = SyntheticChangeDataset(
            sum(counts.values()), self.synthetic.size, self.synthetic.seed
        )
        return Subset(scenes, split_indices(counts)[split])

    def setup(self, stage: str) -> None:
        roles = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}
        for role in roles.get(stage, ()):
            self.dataset(role)

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset("train")
        # A last batch of one crop would break BatchNorm.
        return self._loader(
            dataset, self.batch_size, shuffle=True, drop_last=len(dataset) > self.batch_size
        )

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
