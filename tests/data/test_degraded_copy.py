"""`hicd degrade`: complete, readable, byte-identical and atomic degraded dataset copies."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hicd.data import BitemporalDataset
from hicd.data import degraded_copy as writer_module
from hicd.data.degraded_copy import write_degraded_dataset
from hicd.degradations import SINGLE_KINDS, DegradationSetting
from hicd.errors import HicdError

ACCEPTANCE_SETTINGS = [
    "resolution-x4",
    "resolution-x8",
    *(f"single-{kind}-s3" for kind in SINGLE_KINDS),
    "multi-x4",
]


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("setting", ACCEPTANCE_SETTINGS)
def test_degraded_levir_copy_is_readable_and_repeatable(shared_data, tmp_path, setting) -> None:
    source = shared_data / "levir-cd-256"
    first = write_degraded_dataset(source, tmp_path / "one", setting, seed=0, progress=False)
    second = write_degraded_dataset(source, tmp_path / "two", setting, seed=0, progress=False)
    assert tree_digest(first) == tree_digest(second)

    original, degraded = BitemporalDataset(source), BitemporalDataset(first)
    assert degraded.names == original.names
    for index in range(len(original)):
        clean, lq = original[index], degraded[index]
        assert lq["t2"].shape == clean["t2"].shape
        assert torch.equal(lq["t1"], clean["t1"]) and torch.equal(lq["mask"], clean["mask"])
        assert not torch.equal(lq["t2"], clean["t2"])
    manifest = json.loads((first / "degradation.json").read_text())
    assert manifest["setting"] == setting and manifest["seed"] == 0 and manifest["date"] == "t2"
    assert sorted(manifest["images"]) == sorted(original.names)
    assert (first / "list" / "all.txt").read_bytes() == (source / "list" / "all.txt").read_bytes()


def test_on_the_fly_degradation_matches_written_copy(shared_data, tmp_path) -> None:
    source = shared_data / "levir-cd-256"
    out = write_degraded_dataset(source, tmp_path / "x", "multi-x4", seed=5, progress=False)
    written = BitemporalDataset(out)
    on_the_fly = BitemporalDataset(source, degradation="multi-x4", degradation_seed=5)
    for index in (0, 4):
        assert torch.equal(written[index]["t2"], on_the_fly[index]["t2"])
        assert (
            on_the_fly[index]["degradation"]
            == json.loads((out / "degradation.json").read_text())["images"][written.names[index]]
        )


def test_degrade_t1_leaves_t2_untouched(generic_dataset, tmp_path) -> None:
    root = generic_dataset(names=("a", "b"))
    out = write_degraded_dataset(root, tmp_path / "o", "single-haze-s2", date="t1", progress=False)
    assert (out / "B" / "a.png").read_bytes() == (root / "B" / "a.png").read_bytes()
    assert (out / "A" / "a.png").read_bytes() != (root / "A" / "a.png").read_bytes()


def test_refuses_non_empty_output_even_with_overwrite(generic_dataset, tmp_path) -> None:
    root = generic_dataset(names=("a",))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    for overwrite in (False, True):
        with pytest.raises(
            HicdError, match="out: output folder is not empty and is not an hicd degrade output"
        ):
            write_degraded_dataset(root, out, "resolution-x2", overwrite=overwrite, progress=False)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_interrupted_run_leaves_nothing_behind(generic_dataset, tmp_path, monkeypatch) -> None:
    root = generic_dataset(names=("a", "b", "c"))
    calls = []

    def failing_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original_write(*args, **kwargs)

    original_write = writer_module.write_image_like
    monkeypatch.setattr(writer_module, "write_image_like", failing_write)
    with pytest.raises(KeyboardInterrupt):
        write_degraded_dataset(root, tmp_path / "out", "resolution-x2", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generic"]


def test_geotiff_keeps_georeference_and_dtype(tmp_path, png_writer) -> None:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(0)
    profile = {
        "driver": "GTiff",
        "height": 32,
        "width": 40,
        "count": 4,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": from_origin(500000, 4000000, 10, 10),
    }
    for folder in ("A", "B"):
        (tmp_path / "src" / folder).mkdir(parents=True)
        with rasterio.open(tmp_path / "src" / folder / "s.tif", "w", **profile) as dst:
            dst.write(rng.integers(0, 65535, (4, 32, 40), dtype=np.uint16))
    png_writer(tmp_path / "src" / "label" / "s.png", np.zeros((32, 40), np.uint8))
    out = write_degraded_dataset(tmp_path / "src", tmp_path / "out", "multi-x2", progress=False)
    with rasterio.open(out / "B" / "s.tif") as src:
        assert src.crs.to_epsg() == 32633 and src.transform == profile["transform"]
        assert src.dtypes[0] == "uint16" and src.count == 4


def test_cli_degrade(shared_data, tmp_path) -> None:
    out = tmp_path / "cli"
    command = [
        sys.executable,
        "-m",
        "hicd.cli.main",
        "degrade",
        "--data",
        str(shared_data / "dsifn-256"),
        "--out",
        str(out),
        "--setting",
        "single",
        "--kind",
        "jpeg",
        "--severity",
        "3",
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "degradation.json").read_text())["setting"] == "single-jpeg-s3"
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "folder is not empty" in again.stderr
    no_kind = [*command[:6], "--out", str(tmp_path / "o2"), "--setting", "single"]
    missing_kind = subprocess.run(no_kind, capture_output=True, text=True, check=False)
    assert missing_kind.returncode == 2 and "--setting single needs --kind" in missing_kind.stderr


def test_setting_roundtrip_names() -> None:
    assert DegradationSetting.parse("single-jpeg-s3").kind == "jpeg"


def test_mixed_copy_degrades_the_drawn_date_of_each_pair(generic_dataset, tmp_path) -> None:
    names = tuple(f"p{i}" for i in range(8))
    root = generic_dataset(names=names)
    out = write_degraded_dataset(root, tmp_path / "m", "mixed", seed=0, progress=False)
    manifest = json.loads((out / "degradation.json").read_text())
    assert (manifest["setting"], manifest["date"]) == ("mixed", "either")
    dates = {name: record["date"] for name, record in manifest["images"].items()}
    assert set(dates.values()) == {"t1", "t2"}
    on_the_fly = BitemporalDataset(root, degradation="mixed", degradation_seed=0)
    written = BitemporalDataset(out)
    folders = {"t1": "A", "t2": "B"}
    for index, name in enumerate(on_the_fly.names):
        sample = on_the_fly[index]
        date, kept = dates[name], {"t1": "t2", "t2": "t1"}[dates[name]]
        assert sample["degraded_date"] == date and sample["degradation"] == manifest["images"][name]
        assert set(sample["degradation"]) == {"setting", "drawn", "date", "ops"}
        source = root / folders[kept] / f"{name}.png"
        assert (out / folders[kept] / f"{name}.png").read_bytes() == source.read_bytes()
        assert torch.equal(written[index][date], sample[date])
        assert torch.equal(written[index][kept], sample[kept])


def test_old_module_path_is_a_deprecated_alias() -> None:
    import importlib
    import sys

    from hicd.data.degraded_copy import DegradeOptions

    sys.modules.pop("hicd.tools.degraded_copy", None)
    with pytest.warns(DeprecationWarning, match="moved to hicd.data.degraded_copy"):
        old = importlib.import_module("hicd.tools.degraded_copy")
    assert old.write_degraded_dataset is write_degraded_dataset
    assert old.DegradeOptions is DegradeOptions
