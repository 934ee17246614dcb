from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from hicd.data import BitemporalDataset, PairDataset, PairFiles, collate_samples
from hicd.errors import DataError

SHARED_SETS = {
    "levir-cd-256": "all",
    "levir-cd-1024": "all",
    "dsifn-256": "all",
    "sztaki-airchange": "all",
    "oscd-rgb": "train",
}


@pytest.mark.parametrize("name", sorted(SHARED_SETS))
def test_every_shared_set_loads(shared_data: Path, name: str) -> None:
    dataset = BitemporalDataset(shared_data / name, split=SHARED_SETS[name])
    assert len(dataset) > 0
    for index in range(len(dataset)):
        sample = dataset[index]
        assert sample["t1"].dtype == torch.float32 and sample["t1"].shape[0] == 3
        assert sample["t1"].shape == sample["t2"].shape
        assert sample["mask"].shape == sample["t1"].shape[1:]
        assert set(sample["mask"].unique().tolist()) <= {0, 1}
        assert sample["t1"].min() >= 0.0 and sample["t2"].max() <= 1.0


def test_unlabelled_split_reads_without_labels(shared_data: Path) -> None:
    dataset = BitemporalDataset(shared_data / "oscd-rgb", split="test_unlabelled", labels=False)
    assert len(dataset) == 10
    assert (dataset[0]["mask"] == 255).all()


def test_generic_layout_pairs_by_name(generic_dataset) -> None:
    root = generic_dataset(names=("b", "a", "c"), splits={"train": ["c", "a"], "test": ["b"]})
    assert BitemporalDataset(root).names == ["a", "b", "c"]
    assert BitemporalDataset(root, split="train").names == ["c", "a"]
    sample = BitemporalDataset(root, split="test")[0]
    assert sample["name"] == "b"
    assert set(sample) == {"t1", "t2", "mask", "name", "levels"}
    assert sample["levels"].tolist() == [255.0, 255.0]
    assert sample["mask"].dtype == torch.int64


def test_label_encodings(tmp_path: Path, png_writer, pair_maker) -> None:
    t1, t2, _ = pair_maker(0)
    for name, values in {"zero_one": (0, 1), "zero_255": (0, 255)}.items():
        png_writer(tmp_path / "A" / f"{name}.png", t1)
        png_writer(tmp_path / "B" / f"{name}.png", t2)
        label = np.zeros(t1.shape[:2], np.uint8)
        label[:5, :5] = values[1]
        png_writer(tmp_path / "label" / f"{name}.png", label)
    for sample in BitemporalDataset(tmp_path):
        assert sample["mask"].sum() == 25


def test_ignore_value_is_kept(tmp_path: Path, png_writer, pair_maker) -> None:
    t1, t2, label = pair_maker(0, label_values=(0, 1, 255))
    png_writer(tmp_path / "A" / "x.png", t1)
    png_writer(tmp_path / "B" / "x.png", t2)
    png_writer(tmp_path / "label" / "x.png", label)
    mask = BitemporalDataset(tmp_path, ignore_value=255)[0]["mask"]
    assert torch.equal(mask, torch.from_numpy(label.astype(np.int64)))


def test_tiff_and_jpeg_inputs(tmp_path: Path, png_writer, pair_maker) -> None:
    t1, t2, label = pair_maker(1, size=(20, 30))
    png_writer(tmp_path / "A" / "x.jpg", t1)
    png_writer(tmp_path / "B" / "x.tif", t2)
    png_writer(tmp_path / "label" / "x.png", label)
    sample = BitemporalDataset(tmp_path)[0]
    assert sample["t1"].shape == sample["t2"].shape == (3, 20, 30)
    assert torch.allclose(sample["t2"], torch.from_numpy(t2).permute(2, 0, 1) / 255.0)


def write_geotiff(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "height": array.shape[1],
        "width": array.shape[2],
        "count": array.shape[0],
        "dtype": array.dtype.name,
        "crs": "EPSG:32633",
        "transform": from_origin(500000, 4000000, 10, 10),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)


def test_multiband_geotiff(tmp_path: Path, png_writer) -> None:
    rng = np.random.default_rng(0)
    for date in ("A", "B"):
        write_geotiff(tmp_path / date / "s2.tif", rng.integers(0, 10000, (6, 16, 24), np.uint16))
    png_writer(tmp_path / "label" / "s2.png", np.zeros((16, 24), np.uint8))
    sample = BitemporalDataset(tmp_path, bands=6, value_scale=10000)[0]
    assert sample["t1"].shape == (6, 16, 24)
    assert sample["t1"].min() >= 0 and sample["t1"].max() <= 1


def test_check_sizes_reads_headers_of_png_and_geotiff(tmp_path: Path, png_writer) -> None:
    rng = np.random.default_rng(0)
    write_geotiff(tmp_path / "A" / "s2.tif", rng.integers(0, 10000, (6, 16, 24), np.uint16))
    write_geotiff(tmp_path / "B" / "s2.tif", rng.integers(0, 10000, (6, 16, 24), np.uint16))
    png_writer(tmp_path / "A" / "rgb.png", np.zeros((8, 12, 3), np.uint8))
    png_writer(tmp_path / "B" / "rgb.png", np.zeros((8, 12, 3), np.uint8))
    dataset = BitemporalDataset(tmp_path, labels=False)
    dataset.check_sizes()
    png_writer(tmp_path / "B" / "rgb.png", np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(DataError, match=r"B/rgb\.png: size 10×8 differs from its partner"):
        BitemporalDataset(tmp_path, labels=False).check_sizes()


def test_collate_keeps_names_and_stacks_tensors(generic_dataset) -> None:
    dataset = BitemporalDataset(generic_dataset())
    batch = collate_samples([dataset[0], dataset[1]])
    assert batch["t1"].shape == (2, 3, 32, 48) and batch["mask"].shape == (2, 32, 48)
    assert batch["name"] == ["a", "b"]


def test_released_degraded_t2_folder_replaces_t2(generic_dataset, tmp_path: Path, png_writer):
    root = generic_dataset(names=("a", "b"))
    degraded = tmp_path / "degraded"
    for name in ("a", "b"):
        png_writer(degraded / f"{name}.png", np.full((32, 48, 3), 7, np.uint8))
    sample = BitemporalDataset(root, t2_dir=degraded)[1]
    assert sample["name"] == "b" and torch.all(sample["t2"] == 7 / 255)
    (degraded / "b.png").unlink()
    with pytest.raises(DataError, match=r"degraded: no replacement for t2 image b\.png"):
        BitemporalDataset(root, t2_dir=degraded)


def test_degradation_applies_to_chosen_date_only(generic_dataset) -> None:
    root = generic_dataset(names=("a",))
    clean = BitemporalDataset(root)[0]
    for date, other in (("t2", "t1"), ("t1", "t2")):
        sample = BitemporalDataset(root, degradation="resolution-x4", degraded_date=date)[0]
        assert torch.equal(sample[other], clean[other])
        assert not torch.equal(sample[date], clean[date])
        assert sample["degraded_date"] == date
        assert sample["degradation"]["setting"] == "resolution-x4"
        assert sample[date].shape == clean[date].shape


def test_dated_and_mixed_settings_choose_their_date(generic_dataset) -> None:
    root = generic_dataset(names=("a", "b", "c", "d", "e", "f"))
    clean = BitemporalDataset(root)
    dated = BitemporalDataset(root, degradation="resolution-x4@t1", degraded_date="t2")
    by_date = BitemporalDataset(root, degradation="resolution-x4", degraded_date="t1")
    sample, expected = dated[0], by_date[0]
    assert sample["degraded_date"] == "t1" and torch.equal(sample["t1"], expected["t1"])
    assert torch.equal(sample["t2"], clean[0]["t2"])
    mixed = BitemporalDataset(root, degradation="mixed", degradation_seed=1)
    seen = set()
    for index in range(len(mixed)):
        sample, source = mixed[index], clean[index]
        date = sample["degraded_date"]
        other = {"t1": "t2", "t2": "t1"}[date]
        assert date == sample["degradation"]["date"]
        assert torch.equal(sample[other], source[other])
        assert torch.equal(sample[date], mixed[index][date])  # deterministic
        seen.add(date)
    assert seen == {"t1", "t2"}


def test_deterministic_degradation_repeats(generic_dataset) -> None:
    root = generic_dataset(names=("a", "b"))
    first = BitemporalDataset(root, degradation="multi-x4", degradation_seed=3)[1]["t2"]
    again = BitemporalDataset(root, degradation="multi-x4", degradation_seed=3)[1]["t2"]
    other = BitemporalDataset(root, degradation="multi-x4", degradation_seed=4)[1]["t2"]
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_empty_pair_list_is_an_error() -> None:
    with pytest.raises(DataError, match="no image pairs"):
        PairDataset([])


def test_pair_files_read_directly(generic_dataset) -> None:
    root = generic_dataset(names=("a",))
    pair = PairFiles("a", root / "A" / "a.png", root / "B" / "a.png", root / "label" / "a.png")
    assert PairDataset([pair])[0]["name"] == "a"
