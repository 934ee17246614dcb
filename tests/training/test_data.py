"""ChangeDataModule: dataset kinds, disjoint splits, training crops and whole evaluation images."""

from __future__ import annotations

import pytest
import torch

from hicd.data.synthetic import SyntheticChangeDataset
from hicd.errors import ConfigError, DataError
from hicd.training import ChangeDataModule

SYNTHETIC = {"train": 4, "val": 2, "test": 3, "size": 48, "seed": 5}


def names(loader) -> list[str]:
    return [name for batch in loader for name in batch["name"]]


def test_synthetic_splits_are_disjoint_and_match_the_generator():
    data = ChangeDataModule(synthetic=SYNTHETIC, crop_size=32, batch_size=2, num_workers=0)
    data.setup("fit")
    data.setup("test")
    train, val, test = (
        set(names(loader()))
        for loader in (data.train_dataloader, data.val_dataloader, data.test_dataloader)
    )
    assert len(train) == 4 and len(val) == 2 and len(test) == 3
    assert not train & val and not val & test and not train & test
    # The same scenes as write_synthetic_dataset: consecutive indices train, val, test.
    reference = SyntheticChangeDataset(9, 48, 5)
    assert sorted(val) == [reference[i]["name"] for i in (4, 5)]
    sample = next(iter(data.test_dataloader()))
    assert torch.equal(sample["t1"][0], reference[6]["t1"])


def test_training_crops_and_whole_eval_images():
    data = ChangeDataModule(
        synthetic=SYNTHETIC,
        crop_size=32,
        batch_size=2,
        eval_batch_size=2,
        num_workers=0,
        eval_tile=16,
    )
    train = next(iter(data.train_dataloader()))
    assert train["t1"].shape == (2, 3, 32, 32) and train["mask"].shape == (2, 32, 32)
    assert train["t1"].dtype == torch.float32 and 0 <= train["t1"].min() <= train["t1"].max() <= 1
    assert train["mask"].dtype == torch.int64
    val = next(iter(data.val_dataloader()))
    assert val["t1"].shape == (2, 3, 48, 48)  # whole images; the module tiles them
    assert data.eval_tile == 16
    assert len(data.train_dataloader()) == 2  # drop_last: no batch of one crop


def test_generic_kind_reads_the_split_lists(generic_dataset):
    root = generic_dataset(
        names=("a", "b", "c", "d"),
        size=(40, 40),
        splits={"train": ["a", "b"], "val": ["c"], "test": ["d"]},
    )
    data = ChangeDataModule(
        kind="generic", root=str(root), crop_size=32, batch_size=2, num_workers=0
    )
    assert names(data.val_dataloader()) == ["c"]
    assert names(data.test_dataloader()) == ["d"]
    assert sorted(names(data.train_dataloader())) == ["a", "b"]


def test_crops_per_image_and_cached_tiles(generic_dataset, monkeypatch):
    from hicd.data import dataset as dataset_module

    root = generic_dataset(
        names=("a", "b", "c"), size=(64, 64), splits={"train": ["a", "b"], "val": ["c"]}
    )
    reads = []
    read_image = dataset_module.read_image
    monkeypatch.setattr(dataset_module, "read_image", lambda p: reads.append(p) or read_image(p))
    data = ChangeDataModule(
        kind="generic",
        root=str(root),
        crop_size=16,
        batch_size=4,
        num_workers=0,
        crops_per_image=6,
        cache_images=True,
    )
    loader = data.train_dataloader()
    assert len(loader) == 3  # 2 tiles × 6 crops in full batches of 4
    batches = [batch for _ in range(2) for batch in loader]
    assert all(batch["t1"].shape == (4, 3, 16, 16) for batch in batches)
    assert sorted(names(batches)) == ["a"] * 12 + ["b"] * 12
    assert len(reads) == 4  # each date of each tile decoded once over two epochs
    crops = torch.cat([batch["t1"] for batch in batches])
    assert len({crop.sum().item() for crop in crops}) > 12  # fresh random crops
    cached = data.datasets["train"].dataset.dataset.samples
    pristine = dataset_module.BitemporalDataset(root, "train")
    assert all(torch.equal(cached[i]["t1"], pristine[i]["t1"]) for i in (0, 1))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"kind": "nope"}, ConfigError, "data.kind"),
        ({"kind": "levir_cd"}, ConfigError, "data.root"),
        ({"val_split": "test"}, ConfigError, "data.val_split"),
        ({"crop_size": 0}, ConfigError, "data.crop_size"),
        ({"crops_per_image": 0}, ConfigError, "data.crops_per_image"),
    ],
)
def test_bad_options(options, error, match):
    with pytest.raises(error, match=match):
        ChangeDataModule(**options)


def test_missing_dataset_folder_and_unknown_synthetic_split(tmp_path):
    data = ChangeDataModule(kind="levir_cd", root=str(tmp_path / "missing"), num_workers=0)
    with pytest.raises(DataError, match="missing"):
        data.setup("fit")
    data = ChangeDataModule(val_split="holdout", num_workers=0)
    with pytest.raises(
        ConfigError, match=r"data\.val_split: 'holdout' is not one of train, val, test"
    ):
        data.setup("validate")


def test_real_levir_sample_in_the_generic_layout(shared_data):
    root = shared_data / "levir-cd-256"  # split lists: all.txt, demo_upstream.txt
    data = ChangeDataModule(
        kind="generic",
        root=str(root),
        train_split="all",
        val_split="demo_upstream",
        crop_size=128,
        batch_size=2,
        num_workers=0,
    )
    val = next(iter(data.val_dataloader()))
    assert val["t1"].shape == (1, 3, 256, 256)
    assert set(val["mask"].unique().tolist()) <= {0, 1}
    train = next(iter(data.train_dataloader()))
    assert train["t1"].shape == (2, 3, 128, 128)
