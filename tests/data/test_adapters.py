"""Each dataset adapter on a tiny copy of its real layout, generated here."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hicd.data import BANDON, LEVIRCD, SVCD
from hicd.errors import DataError


def make_split_layout(root: Path, png_writer, pair_maker, label_dir: str, suffix: str) -> None:
    for split_index, split in enumerate(("train", "val", "test")):
        for index in range(2):
            name = f"{split}_{index + 1}{suffix}"
            t1, t2, label = pair_maker(10 * split_index + index, size=(64, 64))
            png_writer(root / split / "A" / name, t1)
            png_writer(root / split / "B" / name, t2)
            png_writer(root / split / label_dir / name, label)


def test_levir_cd(tmp_path, png_writer, pair_maker) -> None:
    make_split_layout(tmp_path, png_writer, pair_maker, "label", ".png")
    for split in ("train", "val", "test"):
        dataset = LEVIRCD(tmp_path, split=split)
        assert dataset.names == [f"{split}_1", f"{split}_2"]
        assert set(dataset[0]["mask"].unique().tolist()) <= {0, 1}
    with pytest.raises(DataError, match="split: 'trian' is not one of train, val, test"):
        LEVIRCD(tmp_path, split="trian")


def test_sv_cd_jpeg_labels_are_binarised(tmp_path, png_writer, pair_maker) -> None:
    make_split_layout(tmp_path, png_writer, pair_maker, "OUT", ".jpg")
    label = np.zeros((64, 64), np.uint8)
    label[13:45, 13:45] = 255
    path = tmp_path / "test" / "OUT" / "test_1.jpg"
    Image.fromarray(label).save(path, quality=50)
    assert len(np.unique(np.asarray(Image.open(path)))) > 2
    sample = SVCD(tmp_path, split="test")[0]
    assert set(sample["mask"].unique().tolist()) == {0, 1}
    assert abs(int(sample["mask"].sum()) - 32 * 32) < 40


def make_bandon(root: Path, png_writer, pair_maker) -> None:
    lines = []
    for city in ("bj", "sh"):
        for index in range(2):
            name = f"L81_{index}"
            t1, t2, label = pair_maker(index, size=(40, 40), label_values=(0, 1, 255))
            png_writer(root / "imgs" / city / "t1" / f"{name}.jpg", t1)
            png_writer(root / "imgs" / city / "t2" / f"{name}.jpg", t2)
            label_path = f"labels_unch0ch1ig255/{city}/t1VSt2/{name}.png"
            png_writer(root / label_path, label)
            aux = f"building_labels/{city}/t1/{name}.png"
            lines.append(
                f"imgs/{city}/t1/{name}.jpg imgs/{city}/t2/{name}.jpg {label_path} {aux} {aux}"
            )
    (root / "list_BANDON_train.txt").write_text("\n".join(lines[:3]) + "\n")
    (root / "list_BANDON_test_ood.txt").write_text(lines[3] + "\n")


def test_bandon(tmp_path, png_writer, pair_maker) -> None:
    make_bandon(tmp_path, png_writer, pair_maker)
    train = BANDON(tmp_path, split="train")
    assert train.names == ["bj_t1VSt2_L81_0", "bj_t1VSt2_L81_1", "sh_t1VSt2_L81_0"]
    mask = train[0]["mask"]
    assert set(mask.unique().tolist()) == {0, 1, 255}
    _, _, label = pair_maker(0, size=(40, 40), label_values=(0, 1, 255))
    assert torch.equal(mask, torch.from_numpy(label.astype(np.int64)))
    assert len(BANDON(tmp_path, split="test_ood")) == 1


def test_bandon_errors(tmp_path, png_writer, pair_maker) -> None:
    make_bandon(tmp_path, png_writer, pair_maker)
    with pytest.raises(DataError, match=r"list_BANDON_val\.txt: BANDON list file not found"):
        BANDON(tmp_path, split="val")
    (tmp_path / "imgs" / "sh" / "t2" / "L81_0.jpg").unlink()
    with pytest.raises(DataError, match=r"sh/t2/L81_0\.jpg: missing file listed in .*train\.txt:3"):
        BANDON(tmp_path, split="train")
    (tmp_path / "list_BANDON_train.txt").write_text("only_one_path.jpg\n")
    with pytest.raises(DataError, match=r"train\.txt:1: expected 't1 t2 label"):
        BANDON(tmp_path, split="train")
