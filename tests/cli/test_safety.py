"""Safety rules: no output replaces an input, unusable output paths and out-of-range options
end in one ``hicd: error:`` line (exit 2), both engines accept the same images, and the ONNX
cache repairs itself. Each case failed at commit 7a12ef4."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

import hicd.inference.engine as engine_module
from hicd.api import ChangeDetector
from hicd.cli.main import main
from hicd.data.io import pixel_scale
from hicd.errors import ConfigError, DataError
from hicd.inference.engine import OnnxNetwork, cache_dir, cache_key

from .test_predict_export import tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory)


@pytest.fixture
def pair(png_writer, tmp_path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    return tuple(
        png_writer(tmp_path / f"{name}.png", rng.integers(0, 256, (40, 48, 3)))
        for name in ("t1", "t2")
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = main([str(part) for part in argv])
    return code, capsys.readouterr().err


def assert_one_error_line(err: str, *words: str) -> None:
    last = err.strip().splitlines()[-1]
    assert last.startswith("hicd: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in last, (word, last)


def predict(checkpoint: Path, pair, out: Path, *extra) -> list:
    return ["predict", "--checkpoint", checkpoint, "--t1", pair[0], "--t2", pair[1],
            "--out", out, "--quiet", *extra]  # fmt: skip


# 1. data loss: outputs never replace an input; formats follow the extension


def test_vector_onto_the_checkpoint_is_refused_even_with_overwrite(
    checkpoint, pair, tmp_path, capsys
):
    before = digest(checkpoint)
    argv = predict(checkpoint, pair, tmp_path / "x.tif", "--vector", checkpoint, "--overwrite")
    code, err = run(argv, capsys)
    assert code == 2 and digest(checkpoint) == before
    assert_one_error_line(err, "--vector", "input")
    assert not (tmp_path / "x.tif").exists()


def test_a_hard_link_to_an_input_is_the_input(checkpoint, pair, tmp_path, capsys):
    link = tmp_path / "link.geojson"
    os.link(checkpoint, link)
    before = digest(checkpoint)
    code, err = run(predict(checkpoint, pair, tmp_path / "x.tif", "--vector", link), capsys)
    assert code == 2 and digest(checkpoint) == before
    assert_one_error_line(err, "--vector", "input")


@pytest.mark.parametrize(("option", "name"), [
    ("--quicklook", "q.jpg"), ("--vector", "v.shp"), ("--vector", "v.ckpt"),
])  # fmt: skip
def test_output_formats_follow_the_extension(checkpoint, pair, tmp_path, capsys, option, name):
    code, err = run(predict(checkpoint, pair, tmp_path / "x.tif", option, tmp_path / name), capsys)
    assert code == 2
    assert_one_error_line(err, option, ".png" if option == "--quicklook" else ".geojson")


def test_the_python_api_protects_its_checkpoint(checkpoint, pair, tmp_path):
    detector = ChangeDetector.from_checkpoint(checkpoint, "cpu")
    with pytest.raises(ConfigError, match="input"):
        detector.predict_files(*pair, tmp_path / "x.tif", vector=checkpoint, overwrite=True)


def test_export_never_replaces_its_checkpoint(tmp_path_factory, capsys):
    checkpoint = tiny_checkpoint(tmp_path_factory)
    renamed = checkpoint.with_suffix(".pt")
    checkpoint.rename(renamed)
    before = digest(renamed)
    argv = ["export", "--checkpoint", renamed, "--out", renamed, "--format", "torchscript"]
    code, err = run([*argv, "--overwrite"], capsys)
    assert code == 2 and digest(renamed) == before
    assert_one_error_line(err, "--out", "input")


# 5. both engines accept tiny and thin images


@pytest.mark.parametrize("shape", [(10, 10), (5, 70), (33, 7)])
def test_tiny_and_thin_images_on_both_engines(checkpoint, shape):
    rng = np.random.default_rng(1)
    t1, t2 = (rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(2))
    maps = []
    for engine in ("torch", "onnx"):
        detector = ChangeDetector.from_checkpoint(checkpoint, "cpu", engine=engine)
        maps.append(detector.predict(t1, t2))
    assert isinstance(
        ChangeDetector.from_checkpoint(checkpoint, "cpu", engine="onnx").model, OnnxNetwork
    )
    assert maps[0].shape == shape
    np.testing.assert_allclose(maps[1], maps[0], atol=1e-4, rtol=0)


# 6. an unusable --out parent


def test_out_under_a_file_is_one_error_line(checkpoint, pair, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    outputs = {
        "predict": predict(checkpoint, pair, blocker / "x.tif"),
        "export": ["export", "--checkpoint", checkpoint, "--out", blocker / "m.onnx"],
    }
    for name, argv in outputs.items():
        code, err = run(argv, capsys)
        assert code == 2, name
        assert_one_error_line(err, str(blocker))
    assert blocker.read_text() == "not a folder"


def test_a_system_error_while_writing_is_one_error_line(checkpoint, pair, monkeypatch, capsys):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", "/data/out/x.tif")

    monkeypatch.setattr("hicd.inference.scene.predict_scene", full_disk)
    monkeypatch.setattr("hicd.api.predict_scene", full_disk)
    code, err = run(predict(checkpoint, pair, Path("/tmp/hicd-never-written.tif")), capsys)
    assert code == 2
    assert_one_error_line(err, "/data/out/x.tif", "No space left")


# 7. --opset out of range


@pytest.mark.parametrize("opset", [0, 7, 10, 24, 99])
def test_export_opset_out_of_range_is_one_line(checkpoint, tmp_path, capsys, opset):
    argv = ["export", "--checkpoint", checkpoint, "--out", tmp_path / "m.onnx", "--opset", opset]
    code, err = run(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert_one_error_line(err, "--opset", "11–23")
    assert not (tmp_path / "m.onnx").exists()


# 8. the ONNX cache


def test_a_corrupt_cached_graph_is_exported_again(checkpoint, capsys):
    ChangeDetector.from_checkpoint(checkpoint, "cpu", engine="onnx")
    cached = cache_dir() / f"{cache_key(checkpoint)}.onnx"
    cached.write_bytes(cached.read_bytes()[:1000])  # truncated
    detector = ChangeDetector.from_checkpoint(checkpoint, "cpu", engine="onnx")
    assert isinstance(detector.model, OnnxNetwork)
    assert "exporting it again" in capsys.readouterr().err
    assert cached.stat().st_size > 1000
    assert isinstance(ChangeDetector.from_checkpoint(checkpoint, "cpu").model, OnnxNetwork)


def test_an_explicit_onnx_engine_never_falls_back(checkpoint, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(engine_module, "cached_session", broken)
    with pytest.raises(ConfigError, match="--engine onnx"):
        ChangeDetector.from_checkpoint(checkpoint, "cpu", engine="onnx")
    detector = ChangeDetector.from_checkpoint(checkpoint, "cpu", engine="auto")  # warns
    assert not isinstance(detector.model, OnnxNetwork)


def test_the_cache_key_follows_the_export_code(checkpoint, monkeypatch):
    key = cache_key(checkpoint)
    engine_module.export_code_hash.cache_clear()
    monkeypatch.setattr(engine_module, "export_code_hash", lambda: "changed exporter")
    assert cache_key(checkpoint) != key
    assert cache_key(checkpoint, opset=17) != cache_key(checkpoint)


# 2-3. the value scale: saturated pixels do not decide it, mixed pairs need one scale per date


def write_tif(path: Path, array: np.ndarray) -> Path:
    """An H×W×C array as a plain (not georeferenced) TIFF."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    height, width, bands = array.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            path, "w", driver="GTiff", height=height, width=width, count=bands,
            dtype=array.dtype.name,
        ) as dataset:  # fmt: skip
            dataset.write(array.transpose(2, 0, 1))
    return path


def reflectance(shape=(64, 64), saturated: int = 4) -> np.ndarray:
    """uint16 reflectance ×10000 (values up to 10000) with a few saturated 65535 pixels."""
    image = np.random.default_rng(2).integers(0, 2600, (*shape, 3), dtype=np.uint16)
    image.reshape(-1)[:saturated] = 65535
    return image


def test_saturated_pixels_do_not_make_reflectance_full_range(checkpoint):
    detector = ChangeDetector.from_checkpoint(checkpoint, "cpu", engine="torch")
    image = reflectance()
    with pytest.raises(DataError, match=r"4 pixels at 65535 \(saturated or fill"):
        detector.predict(image, image)
    assert detector.predict(image, image, value_scale=10000).shape == (64, 64)


def test_saturated_geotiff_is_refused_by_predict(checkpoint, tmp_path, capsys):
    paths = [write_tif(tmp_path / f"{d}.tif", reflectance()) for d in ("t1", "t2")]
    argv = ["predict", "--checkpoint", checkpoint, "--t1", paths[0], "--t2", paths[1],
            "--out", tmp_path / "x.tif", "--quiet"]  # fmt: skip
    code, err = run(argv, capsys)
    assert code == 2
    assert_one_error_line(err, "saturated", "--value-scale")
    assert main([str(a) for a in argv] + ["--value-scale", "10000"]) == 0


def test_full_range_uint16_keeps_its_maximum():
    full = np.random.default_rng(3).integers(0, 65536, (32, 32, 3), dtype=np.uint16)
    assert pixel_scale(full, "full.tif") == 65535.0


def test_one_scale_for_a_mixed_pair_is_refused_with_the_per_date_form(checkpoint, tmp_path, capsys):
    t1 = write_tif(tmp_path / "t1.tif", reflectance(saturated=0))
    t2 = write_tif(tmp_path / "t2.tif", np.full((64, 64, 3), 90, np.uint8))
    argv = ["predict", "--checkpoint", checkpoint, "--t1", t1, "--t2", t2,
            "--out", tmp_path / "x.tif", "--quiet"]  # fmt: skip
    code, err = run([*argv, "--value-scale", "10000"], capsys)
    assert code == 2
    assert_one_error_line(err, "uint16", "uint8", "--value-scale 10000,255")
    assert main([str(a) for a in argv] + ["--value-scale", "10000,255"]) == 0
    detector = ChangeDetector.from_checkpoint(checkpoint, "cpu", engine="torch")
    with pytest.raises(ConfigError, match=r"value_scale=\(10000,255\)"):
        detector.predict(reflectance(saturated=0), np.zeros((64, 64, 3), np.uint8), value_scale=1e4)


# 4. every file and folder a command creates follows the umask, copied list files included


def test_degrade_copies_list_files_under_the_umask(png_writer, tmp_path, umask):
    data = tmp_path / "data"
    rng = np.random.default_rng(4)
    for name in ("a", "b"):
        for folder in ("A", "B", "label"):
            png_writer(data / folder / f"{name}.png", rng.integers(0, 2, (32, 32)) * 255)
    (data / "list" / "sub").mkdir(parents=True)
    (data / "list" / "test.txt").write_text("a.png\nb.png\n")
    (data / "list" / "sub" / "notes.txt").write_text("x\n")
    for path in [data / "list", data / "list" / "sub"]:
        path.chmod(0o777)
    for path in (data / "list").rglob("*.txt"):
        path.chmod(0o666)
    with umask(0o077):
        argv = ["degrade", "--data", data, "--out", tmp_path / "out", "--setting", "multi-x4"]
        assert main([str(a) for a in [*argv, "--quiet"]]) == 0
    created = [tmp_path / "out", *(tmp_path / "out").rglob("*")]
    assert any(p.name == "notes.txt" for p in created)
    for path in created:
        expected = 0o700 if path.is_dir() else 0o600
        assert path.stat().st_mode & 0o777 == expected, path


# 9. hicd inspect applies predict's pairing checks and says when an image is too small


def test_inspect_refuses_what_predict_refuses(png_writer, tmp_path, capsys):
    from tests.inference.conftest import write_geotiff

    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (3, 96, 96), dtype=np.uint8)
    t1 = write_geotiff(tmp_path / "t1.tif", image)
    far = write_geotiff(tmp_path / "far.tif", image, offset=(5000.0, 0.0))
    plain = png_writer(tmp_path / "plain.png", image.transpose(1, 2, 0))
    tiny = [png_writer(tmp_path / f"tiny{i}.png", image[:, :10, :10].transpose(1, 2, 0))
            for i in (1, 2)]  # fmt: skip
    for pair, words in [
        ((t1, far), ("footprints do not overlap",)),
        ((t1, plain), ("is georeferenced but", "is not")),
        (tiny, ("too small to measure",)),
    ]:
        code, err = run(["inspect", "--t1", pair[0], "--t2", pair[1]], capsys)
        assert code == 2, words
        assert_one_error_line(err, *words)


# 10. the small items


def test_a_text_file_given_as_checkpoint_is_named_as_such(pair, tmp_path, capsys):
    config = tmp_path / "run.json"
    config.write_text('{"lr": 0.001}')
    code, err = run(predict(config, pair, tmp_path / "x.tif"), capsys)
    assert code == 2
    assert_one_error_line(err, "is a text file (JSON/YAML), not a checkpoint")
    assert "code execution" not in err


def test_an_overlap_alone_is_checked_without_guessing_the_tile(checkpoint, pair, tmp_path, capsys):
    code, err = run(predict(checkpoint, pair, tmp_path / "x.tif", "--overlap", "-1"), capsys)
    assert code == 2
    assert_one_error_line(err, "--overlap must be ≥ 0, got -1")
    assert "512" not in err


def test_the_python_api_names_its_own_overwrite(checkpoint, pair, tmp_path):
    detector = ChangeDetector.from_checkpoint(checkpoint, "cpu")
    out = tmp_path / "x.tif"
    detector.predict_files(*pair, out)
    with pytest.raises(ConfigError, match=r"overwrite=True"):
        detector.predict_files(*pair, out)


def test_inspect_leaks_no_pytorch_warning(png_writer, tmp_path, capsys):
    import warnings

    rng = np.random.default_rng(6)
    paths = [png_writer(tmp_path / f"{d}.png", rng.integers(0, 256, (64, 64))) for d in "ab"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["inspect", "--t1", str(paths[0]), "--t2", str(paths[1])]) == 0


def test_the_gap_line_comes_before_the_progress_bar(checkpoint, pair, tmp_path, capsys):
    code, err = run(["predict", "--checkpoint", checkpoint, "--t1", pair[0], "--t2", pair[1],
                     "--out", tmp_path / "x.tif"], capsys)  # fmt: skip
    assert code == 0
    assert err.index("inspect ") < err.index("x.tif:")  # the bar's label is the map's name
    assert err.count("inspect ") == 1


def test_sigterm_once_every_output_is_written_ends_normally(
    checkpoint, pair, tmp_path, monkeypatch
):
    from hicd.cli.main import Terminated

    original = ChangeDetector.predict_files

    def then_sigterm(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise Terminated()  # SIGTERM right after the renames

    def sigterm_first(self, *args, **kwargs):
        raise Terminated()

    monkeypatch.setattr(ChangeDetector, "predict_files", then_sigterm)
    assert main([str(a) for a in predict(checkpoint, pair, tmp_path / "x.tif")]) == 0
    monkeypatch.setattr(ChangeDetector, "predict_files", sigterm_first)
    argv = predict(checkpoint, pair, tmp_path / "x.tif", "--overwrite")  # old outputs remain
    assert main([str(a) for a in argv]) == 143
