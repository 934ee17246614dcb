"""Every layout is read by every command: the registry, hicd degrade and hicd inspect.

On the real SV-CD sample (``SPLIT/{A,B,OUT}/*.jpg``) and on LEVIR-CD and BANDON layouts
written here from tiny arrays.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hicd.cli.main import main
from hicd.data import LAYOUTS, layout_pairs, open_layout, read_image
from hicd.data.adapters import BANDON, LEVIRCD, SVCD
from hicd.data.degraded_copy import write_degraded_dataset
from hicd.errors import ConfigError, DataError
from hicd.training.data import FILE_DATASETS


@pytest.fixture
def sv_cd(shared_data) -> Path:
    path = shared_data / "sv-cd-256"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


def test_training_reads_the_one_registry() -> None:
    assert FILE_DATASETS is LAYOUTS
    assert list(LAYOUTS) == ["generic", "levir_cd", "bandon", "sv_cd"]


def test_layout_pairs_of_a_split_and_of_every_split(layout_dataset) -> None:
    levir = layout_dataset("levir_cd")
    names = [pair.name for pair in layout_pairs(levir, "levir_cd", "test")]
    assert names == ["test_1", "test_2"]
    every = [pair.name for pair in layout_pairs(levir, "levir_cd")]
    assert every == ["train_1", "train_2", "val_1", "val_2", "test_1", "test_2"]
    assert all(pair.label is None for pair in layout_pairs(levir, "levir_cd", labels=False))
    assert len(LEVIRCD(levir, split=None)) == 6
    bandon = layout_dataset("bandon")
    assert BANDON.present_splits(bandon) == ["train", "test"]
    assert len(layout_pairs(bandon, "bandon")) == 3
    with pytest.raises(ConfigError, match="--layout: 'levir' is not one of generic, levir_cd"):
        layout_pairs(levir, "levir")
    with pytest.raises(DataError, match="split: 'dev' is not one of train, val, test"):
        layout_pairs(levir, "levir_cd", "dev")
    with pytest.raises(DataError, match="no split folder found"):
        layout_pairs(bandon, "levir_cd")


def test_open_layout_applies_the_layouts_own_options(sv_cd, layout_dataset) -> None:
    dataset = open_layout(sv_cd, "sv_cd", "test", ignore_value=None)
    assert len(dataset) == len(SVCD(sv_cd, split="test")) == 4
    assert set(dataset[0]["mask"].unique().tolist()) <= {0, 1}  # JPEG labels binarised at 128
    bandon = open_layout(layout_dataset("bandon"), "bandon", "train", ignore_value=None)
    assert bandon.ignore_value == 255
    assert set(bandon[0]["mask"].unique().tolist()) == {0, 1, 255}


def test_degrade_sv_cd_keeps_the_layout_and_matches_on_the_fly(sv_cd, tmp_path) -> None:
    out = tmp_path / "svcd-multi"
    argv = ["degrade", "--data", str(sv_cd), "--out", str(out), "--layout", "sv_cd"]
    assert main([*argv, "--split", "test", "--setting", "multi-x4", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["degradation.json", "test"]
    assert sorted(p.name for p in (out / "test").iterdir()) == ["A", "B", "OUT"]
    names = sorted(p.stem for p in (sv_cd / "test" / "A").iterdir())
    assert sorted(p.name for p in (out / "test" / "B").iterdir()) == [f"{n}.png" for n in names]
    for name in names:  # t1 and the labels copied byte for byte
        for folder in ("A", "OUT"):
            source = sv_cd / "test" / folder / f"{name}.jpg"
            assert (out / "test" / folder / source.name).read_bytes() == source.read_bytes()
    manifest = json.loads((out / "degradation.json").read_text())
    assert (manifest["layout"], manifest["split"]) == ("sv_cd", "test")
    assert sorted(manifest["images"]) == [f"test/{name}" for name in names]
    # the copy read in its layout gives exactly the images evaluate degrades on the fly
    copy = SVCD(out, split="test")
    on_the_fly = open_layout(sv_cd, "sv_cd", "test", degradation="multi-x4", degradation_seed=0)
    for index in range(len(copy)):
        assert torch.equal(copy[index]["t2"], on_the_fly[index]["t2"])
        assert torch.equal(copy[index]["mask"], on_the_fly[index]["mask"])


def test_degrade_levir_cd_copies_every_split(layout_dataset, tmp_path) -> None:
    levir = layout_dataset("levir_cd")
    out = write_degraded_dataset(
        levir, tmp_path / "out", "resolution-x2", layout="levir_cd", date="t1", progress=False
    )
    for split in ("train", "val", "test"):
        assert LEVIRCD(out, split=split).names == LEVIRCD(levir, split=split).names
        for name in (f"{split}_1.png", f"{split}_2.png"):
            for folder in ("B", "label"):
                source = levir / split / folder / name
                assert (out / split / folder / name).read_bytes() == source.read_bytes()
            assert not np.array_equal(
                read_image(out / split / "A" / name), read_image(levir / split / "A" / name)
            )
    manifest = json.loads((out / "degradation.json").read_text())
    assert len(manifest["images"]) == 6 and manifest["date"] == "t1"


def test_degrade_bandon_rewrites_its_list_files(layout_dataset, tmp_path) -> None:
    bandon = layout_dataset("bandon")
    out = write_degraded_dataset(bandon, tmp_path / "out", "multi-x2", layout="bandon")
    listed = (out / "list_BANDON_train.txt").read_text().split()
    assert listed[:3] == [
        "imgs/bj/t1/L81_0.jpg",
        "imgs/bj/t2/L81_0.png",  # the degraded JPEG, written losslessly
        "labels_unch0ch1ig255/bj/t1VSt2/L81_0.png",
    ]
    assert not (out / "building_labels").exists()  # auxiliary paths are not read nor copied
    for split in ("train", "test"):
        copy, source = BANDON(out, split=split), BANDON(bandon, split=split)
        assert copy.names == source.names
        assert torch.equal(copy[0]["t1"], source[0]["t1"])
        assert torch.equal(copy[0]["mask"], source[0]["mask"])
    only_test = write_degraded_dataset(
        bandon, tmp_path / "test-only", "multi-x2", layout="bandon", split="test", progress=False
    )
    assert not (only_test / "list_BANDON_train.txt").exists()
    assert len(BANDON(only_test, split="test")) == 1


def test_degrade_generic_split_copies_its_list(generic_dataset, tmp_path) -> None:
    root = generic_dataset(names=("a", "b", "c"), splits={"train": ["a", "b"], "test": ["c"]})
    out = write_degraded_dataset(root, tmp_path / "out", "multi-x2", split="train", progress=False)
    assert sorted(p.name for p in (out / "A").iterdir()) == ["a.png", "b.png"]
    assert sorted(p.name for p in (out / "list").iterdir()) == ["train.txt"]
    manifest = json.loads((out / "degradation.json").read_text())
    assert sorted(manifest["images"]) == ["a", "b"]  # generic: keyed by name, as before


def test_inspect_reads_every_layout(sv_cd, layout_dataset, capsys) -> None:
    argv = ["inspect", "--data", str(sv_cd), "--layout", "sv_cd", "--split", "test", "--json"]
    assert main(argv) == 0
    results = json.loads(capsys.readouterr().out)
    assert sorted(r["name"] for r in results) == sorted(
        p.stem for p in (sv_cd / "test" / "A").iterdir()
    )
    assert main(["inspect", "--data", str(layout_dataset("bandon")), "--layout", "bandon"]) == 0
    assert capsys.readouterr().out.count("L81_") == 3
    assert main(["inspect", "--t1", "a.png", "--t2", "b.png", "--split", "test"]) == 2
    assert "--layout and --split apply to --data" in capsys.readouterr().err
