"""File-to-file prediction: georeference, resampling of t2 onto t1's grid, nodata, atomicity."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning

from hicd.api import ChangeDetector
from hicd.defaults import overlap_for
from hicd.errors import ConfigError, DataError
from hicd.inference import streaming
from hicd.inference.output import MAP_NODATA
from hicd.inference.vector import write_change_polygons


def read_map(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile, dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dataset = rasterio.open(path)
    with dataset:
        return dataset.read(1), dataset.profile, dataset.tags()


def test_georeference_preserved_and_map_equals_in_memory_prediction(
    tiny_checkpoint, geotiff, random_image, tmp_path
):
    a, b = random_image(90, 150, seed=1), random_image(90, 150, seed=2)
    t1 = geotiff(tmp_path / "t1.tif", a, pixel=0.5, offset=(10.0, 20.0))
    t2 = geotiff(tmp_path / "t2.tif", b, pixel=0.5, offset=(10.0, 20.0))
    detector = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu")
    expected = detector.predict(a, b, tile=64)  # C×H×W arrays, the default overlap

    result = detector.predict_files(t1, t2, tmp_path / "out" / "p.tif", probabilities=True)
    probability, profile, tags = read_map(result.out)
    with rasterio.open(t1) as source:
        assert profile["crs"] == source.crs and profile["transform"] == source.transform
    assert profile["dtype"] == "float32" and np.isnan(profile["nodata"])
    assert profile["tiled"] and profile["compress"] == "deflate"
    assert tags["hicd_tile"] == "64" and tags["hicd_overlap"] == str(overlap_for(64))
    np.testing.assert_allclose(probability, expected, atol=1e-5)
    assert not result.warped and result.valid_pixels == 90 * 150

    binary = detector.predict_files(t1, t2, tmp_path / "b.tif", threshold=0.5)
    values, profile, _ = read_map(binary.out)
    assert profile["dtype"] == "uint8" and profile["nodata"] == MAP_NODATA
    np.testing.assert_array_equal(values, (expected >= 0.5).astype(np.uint8))
    assert binary.changed_pixels == int(values.sum())
    with Image.open(tmp_path / "b.png") as quicklook:
        assert quicklook.size == (150, 90) and quicklook.mode == "RGB"


def scene_with_square(height: int, width: int) -> np.ndarray:
    """Dark ground with a bright square on rows 80–119 and columns 100–139 (1-m grid)."""
    scene = np.full((3, height, width), 30, np.uint8)
    scene[:, 80:120, 100:140] = 230
    return scene


def test_half_resolution_shifted_t2_is_aligned_on_t1_pixels(
    brightness_detector, geotiff, random_image, tmp_path
):
    """t2 at 2 m starts 40 m east and 20 m south of t1 (1 m) and reaches past its far edges;
    the change (t2's bright square) must land on t1's pixels of that square."""
    t1 = geotiff(tmp_path / "t1.tif", random_image(200, 240), pixel=1.0)
    fine = scene_with_square(260, 300)[:, 20:220, 40:280]  # the 1-m scene under t2's footprint
    coarse = fine.reshape(3, 100, 2, 120, 2).mean(axis=(2, 4)).round().astype(np.uint8)
    t2 = geotiff(tmp_path / "t2.tif", coarse, pixel=2.0, offset=(40.0, 20.0))

    result = brightness_detector.predict_files(t1, t2, tmp_path / "c.tif", tile=64, overlap=16)
    values, _, tags = read_map(result.out)
    assert values.shape == (200, 240) and result.warped
    assert result.region == (20, 40, 180, 200)
    assert tags["hicd_resampling"] == "bilinear"
    # outside t2's footprint: nodata; inside: a prediction
    assert (values[:20] == MAP_NODATA).all() and (values[:, :40] == MAP_NODATA).all()
    assert (values[20:, 40:] != MAP_NODATA).all()
    assert (values[81:119, 101:139] == 1).all()
    inside = np.zeros(values.shape, bool)
    inside[79:121, 99:141] = True
    assert (values[~inside & (values != MAP_NODATA)] == 0).all()
    assert result.valid_pixels == 180 * 200


def test_t2_in_another_crs_is_reprojected(brightness_detector, geotiff, random_image, tmp_path):
    """The same square, t2 given in Web Mercator: it still lands on t1's pixels (±1 px)."""
    from rasterio.vrt import WarpedVRT

    t1 = geotiff(tmp_path / "t1.tif", random_image(200, 240), pixel=1.0)
    utm = geotiff(tmp_path / "utm.tif", scene_with_square(200, 240), pixel=1.0)
    with rasterio.open(utm) as source, WarpedVRT(source, crs="EPSG:3857") as vrt:
        profile = {**vrt.profile, "driver": "GTiff"}
        t2 = tmp_path / "mercator.tif"
        with rasterio.open(t2, "w", **profile) as out:
            out.write(vrt.read())
    result = brightness_detector.predict_files(t1, t2, tmp_path / "c.tif", quicklook=False)
    values, _, _ = read_map(result.out)
    assert (values[81:119, 101:139] == 1).all()
    outside = np.ones(values.shape, bool)
    outside[79:121, 99:141] = False
    assert (values[outside & (values != MAP_NODATA)] == 0).all()


def test_nodata_of_either_date_gives_nodata(brightness_detector, geotiff, tmp_path):
    a = np.full((3, 80, 90), 100, np.uint8)
    a[:, 10:20, 10:30] = 0  # t1 nodata
    a[0, 30:35, 60:70] = 0  # only one band at the nodata value: still data
    b = scene_with_square(200, 240)[:, 60:140, 80:170].copy()  # square at rows 20–59, cols 20–59
    b[:, 60:70, 50:80] = 7  # t2 nodata
    t1 = geotiff(tmp_path / "t1.tif", a, nodata=0)
    t2 = geotiff(tmp_path / "t2.tif", b, nodata=7)
    expected = np.zeros((80, 90), bool)
    expected[10:20, 10:30] = expected[60:70, 50:80] = True

    result = brightness_detector.predict_files(t1, t2, tmp_path / "m.tif", tile=32, overlap=8)
    values, _, _ = read_map(result.out)
    np.testing.assert_array_equal(values == MAP_NODATA, expected)
    assert (values[20:60, 30:60] == 1).all()
    assert result.valid_pixels == 80 * 90 - 200 - 300

    probability = brightness_detector.predict_files(
        t1, t2, tmp_path / "p.tif", probabilities=True, quicklook=False
    )
    values, _, _ = read_map(probability.out)
    np.testing.assert_array_equal(np.isnan(values), expected)


def test_png_pairs_are_pixel_grids(brightness_detector, png_writer, tmp_path):
    t1 = png_writer(tmp_path / "a.png", np.zeros((50, 70, 3)))
    t2 = png_writer(
        tmp_path / "b.png", scene_with_square(200, 240)[:, 70:120, 90:160].transpose(1, 2, 0)
    )
    result = brightness_detector.predict_files(t1, t2, tmp_path / "m.tif")
    values, profile, _ = read_map(result.out)
    assert profile["crs"] is None and values.shape == (50, 70)
    assert (values[10:50, 10:50] == 1).all() and values.sum() == 40 * 40


def test_inputs_are_checked_before_any_work(
    tiny_checkpoint, brightness_detector, geotiff, random_image, png_writer, tmp_path
):
    detector = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu")
    t1 = geotiff(tmp_path / "t1.tif", random_image(40, 40))
    five = geotiff(tmp_path / "five.tif", random_image(40, 40, bands=5))
    far = geotiff(tmp_path / "far.tif", random_image(40, 40), offset=(1000.0, 0.0))
    plain = png_writer(tmp_path / "plain.png", np.zeros((40, 40, 3)))
    small = png_writer(tmp_path / "small.png", np.zeros((30, 40, 3)))
    out = tmp_path / "out" / "m.tif"
    cases = [
        ((t1, five, out), {}, DataError, r"five\.tif: has 5 image bands but the model takes 3"),
        ((t1, far, out), {}, DataError, "footprints do not overlap"),
        ((t1, plain, out), {}, DataError, "georeferenced but .*plain.png is not"),
        ((plain, small, out), {}, DataError, "no georeference and different sizes"),
        ((t1, t1, tmp_path / "m.png"), {}, ConfigError, "must end in .tif"),
        ((t1, t1, t1), {}, ConfigError, "is the input"),
        ((t1, t1, out), {"overlap": 64}, ConfigError, "--overlap"),
        (
            (t1, t1, out),
            {"resampling": "magic"},
            ConfigError,
            "--resampling: 'magic' is not one of",
        ),
        ((t1, t1, out), {"threshold": 2.0}, ConfigError, "--threshold"),
        ((t1, t1, out), {"bands": [1, 2, 5]}, ConfigError, r"--bands asks for \[5\]"),
    ]
    for args, options, error, message in cases:
        with pytest.raises(error, match=message):
            detector.predict_files(*args, **options)
    assert not out.parent.exists()
    # picking three of the five bands makes the file usable
    assert detector.predict_files(t1, five, out, bands=[3, 1, 2]).out.is_file()


def test_an_interrupted_run_leaves_no_output(
    brightness_detector, geotiff, random_image, tmp_path, monkeypatch
):
    t1 = geotiff(tmp_path / "t1.tif", random_image(100, 100))
    t2 = geotiff(tmp_path / "t2.tif", random_image(100, 100, seed=1))
    forward = streaming.forward_probability
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return forward(*args, **kwargs)

    monkeypatch.setattr(streaming, "forward_probability", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        brightness_detector.predict_files(
            t1, t2, out / "m.tif", tile=32, overlap=8, batch_size=2, vector=out / "m.geojson"
        )
    assert len(calls) == 3 and list(out.iterdir()) == []


def test_changes_as_polygons_with_areas(brightness_detector, geotiff, random_image, tmp_path):
    scene = np.full((3, 100, 120), 30, np.uint8)
    scene[:, 10:30, 10:40] = 230  # 20×30 px
    scene[:, 40:90, 60:70] = 230  # 50×10 px, crosses polygonisation strips below
    scene[:, 60:70, 70:100] = 230  # joined to the previous one: an L of 800 px
    t1 = geotiff(tmp_path / "t1.tif", random_image(100, 120), pixel=0.5)
    t2 = geotiff(tmp_path / "t2.tif", scene, pixel=0.5)
    result = brightness_detector.predict_files(
        t1, t2, tmp_path / "m.tif", vector=tmp_path / "m.geojson", vector_crs="native"
    )
    for strip_rows in (1024, 16):  # one strip, and many (merged across strip edges)
        path = tmp_path / f"strips{strip_rows}.geojson"
        count = write_change_polygons(result.out, path, strip_rows=strip_rows, vector_crs="native")
        collection = json.loads(path.read_text())
        assert count == 2 == result.polygons
        assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32631"
        pixels = sorted(f["properties"]["pixels"] for f in collection["features"])
        areas = sorted(f["properties"]["area"] for f in collection["features"])
        assert pixels == [600, 800] and areas == [150.0, 200.0]  # 0.25 m² pixels
    first = json.loads(result.vector.read_text())["features"]
    x0, y0 = 500000.0, 4000000.0
    square = next(f for f in first if f["properties"]["pixels"] == 600)["geometry"]
    xs = [x for x, _ in square["coordinates"][0]]
    ys = [y for _, y in square["coordinates"][0]]
    assert (min(xs), max(xs)) == (x0 + 5, x0 + 20) and (min(ys), max(ys)) == (y0 - 15, y0 - 5)


def test_decoded_changes_never_include_nodata():
    from hicd.inference.output import MAP_NODATA, decode_changes, encode

    probability = np.array([[0.0, 0.4, 0.6, 0.9]], np.float32)
    valid = np.array([[True, True, True, False]])
    for probabilities in (False, True):
        stored = encode(probability, valid, 0.5, probabilities)
        assert decode_changes(stored, 0.5).tolist() == [[False, False, True, False]]
    stored = encode(probability, valid, 0.0, True)
    assert decode_changes(stored, 0.0).tolist() == [[True, True, True, False]]
    assert not decode_changes(np.array([MAP_NODATA], np.uint8), 0.5).any()
