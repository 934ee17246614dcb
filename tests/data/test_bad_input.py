"""Every kind of bad input raises a DataError that names the file and the problem."""

from pathlib import Path

import numpy as np
import pytest

from hicd.data import BitemporalDataset
from hicd.errors import DataError


def write_set(root: Path, png_writer, t1, t2, label, name="x") -> None:
    png_writer(root / "A" / f"{name}.png", t1)
    png_writer(root / "B" / f"{name}.png", t2)
    png_writer(root / "label" / f"{name}.png", label)


def test_pair_sizes_differ(tmp_path, png_writer, pair_maker) -> None:
    t1, _, label = pair_maker(0, size=(32, 48))
    _, t2, _ = pair_maker(1, size=(30, 48))
    write_set(tmp_path, png_writer, t1, t2, label)
    with pytest.raises(
        DataError, match=r"B/x\.png: size 48×30 differs from its partner .*A/x\.png"
    ):
        BitemporalDataset(tmp_path)[0]


def test_label_size_differs(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, _ = pair_maker(0, size=(32, 48))
    write_set(tmp_path, png_writer, t1, t2, np.zeros((16, 24), np.uint8))
    with pytest.raises(DataError, match=r"label/x\.png: label size 24×16 differs"):
        BitemporalDataset(tmp_path)[0]


def test_missing_partner_file(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, label = pair_maker(0)
    write_set(tmp_path, png_writer, t1, t2, label)
    png_writer(tmp_path / "A" / "lonely.png", t1)
    with pytest.raises(DataError, match=r"A/lonely\.png: missing partner file .*B/lonely"):
        BitemporalDataset(tmp_path)


def test_missing_partner_of_listed_name(generic_dataset) -> None:
    root = generic_dataset(names=("a", "b"), splits={"train": ["a", "zzz"]})
    with pytest.raises(DataError, match="'zzz': missing partner file"):
        BitemporalDataset(root, split="train")


def test_non_binary_label(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, _ = pair_maker(0)
    label = np.zeros(t1.shape[:2], np.uint8)
    label[0, :3] = (1, 128, 255)
    write_set(tmp_path, png_writer, t1, t2, label)
    with pytest.raises(
        DataError, match=r"label/x\.png: label is not binary; found values \[0, 1, 128, 255\]"
    ):
        BitemporalDataset(tmp_path)[0]


def test_label_mixing_one_and_255_is_not_binary(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, label = pair_maker(0, label_values=(0, 1, 255))
    write_set(tmp_path, png_writer, t1, t2, label)
    with pytest.raises(DataError, match="label is not binary"):
        BitemporalDataset(tmp_path)[0]


def test_multiband_label(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, _ = pair_maker(0)
    label = np.zeros((*t1.shape[:2], 3), np.uint8)
    label[..., 1] = 255
    write_set(tmp_path, png_writer, t1, t2, label)
    with pytest.raises(DataError, match="a label must have one band, found 3"):
        BitemporalDataset(tmp_path)[0]


def test_truncated_image(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, label = pair_maker(0)
    write_set(tmp_path, png_writer, t1, t2, label)
    path = tmp_path / "B" / "x.png"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"B/x\.png: unreadable or truncated image"):
        BitemporalDataset(tmp_path)[0]


def test_not_an_image(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, label = pair_maker(0)
    write_set(tmp_path, png_writer, t1, t2, label)
    (tmp_path / "A" / "x.png").write_text("hello")
    with pytest.raises(DataError, match=r"A/x\.png: unreadable or truncated image"):
        BitemporalDataset(tmp_path)[0]


def test_unreadable_tiff(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, label = pair_maker(0)
    write_set(tmp_path, png_writer, t1, t2, label)
    (tmp_path / "B" / "x.png").unlink()
    (tmp_path / "B" / "x.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match=r"B/x\.tif: unreadable or truncated raster"):
        BitemporalDataset(tmp_path)[0]


def test_wrong_band_count(tmp_path, png_writer, pair_maker) -> None:
    t1, t2, label = pair_maker(0, bands=4)
    write_set(tmp_path, png_writer, t1, t2, label)
    with pytest.raises(DataError, match=r"A/x\.png: expected 3 bands, found 4"):
        BitemporalDataset(tmp_path, bands=3)[0]


def test_band_count_differs_between_dates(tmp_path, png_writer, pair_maker) -> None:
    t1, _, label = pair_maker(0, bands=3)
    write_set(tmp_path, png_writer, t1, t1[..., 0], label)
    with pytest.raises(DataError, match=r"B/x\.png: 1 bands but its partner .*A/x\.png has 3"):
        BitemporalDataset(tmp_path)[0]


def test_empty_folder(tmp_path) -> None:
    for folder in ("A", "B", "label"):
        (tmp_path / folder).mkdir()
    with pytest.raises(DataError, match=r"A: no images found"):
        BitemporalDataset(tmp_path)


def test_missing_dataset_folder(tmp_path) -> None:
    with pytest.raises(DataError, match=r"nowhere: dataset folder not found"):
        BitemporalDataset(tmp_path / "nowhere")


def test_missing_split_list(generic_dataset) -> None:
    with pytest.raises(DataError, match=r"list/val\.txt: split list not found"):
        BitemporalDataset(generic_dataset(), split="val")


def test_two_files_with_one_name(generic_dataset, png_writer, pair_maker) -> None:
    root = generic_dataset(names=("a",))
    png_writer(root / "A" / "a.jpg", pair_maker(0)[0])
    with pytest.raises(DataError, match="two files share the name 'a'"):
        BitemporalDataset(root)
