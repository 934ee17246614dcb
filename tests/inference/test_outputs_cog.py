"""Standard outputs: the change map is a Cloud-Optimized GeoTIFF, the polygons RFC 7946 GeoJSON."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import transform as transform_points

from hicd.api import ChangeDetector
from hicd.cli.main import main
from hicd.errors import ConfigError
from hicd.inference import output
from hicd.inference.output import MAP_NODATA, ChangeMapWriter, encode
from hicd.inference.vector import write_change_polygons
from hicd.models.checkpoint import CheckpointInfo

cogeo = pytest.importorskip("rio_cogeo.cogeo")
shapely = pytest.importorskip("shapely")
from shapely.geometry import shape  # noqa: E402

UTM = "EPSG:32631"  # that of conftest.write_geotiff
TRANSFORM = Affine(0.5, 0.0, 500000.0, 0.0, -0.5, 4000000.0)
INFO = CheckpointInfo(model_config={"name": "local_net", "in_channels": 3}, tile_size=64)


def open_map(path: Path, **options) -> rasterio.io.DatasetReader:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path, **options)


def cog_validate(path: Path) -> tuple[bool, list[str], list[str]]:
    """rio-cogeo's validator: (valid, errors, warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return cogeo.cog_validate(path)


def write_map(
    path: Path, encoded: np.ndarray, probabilities: bool, crs=UTM, transform=TRANSFORM
) -> Path:
    """Write ``encoded`` with ``ChangeMapWriter`` in bands of 100 rows, as prediction does."""
    height, width = encoded.shape
    transform = transform if crs else None
    crs = CRS.from_string(crs) if crs else None
    with ChangeMapWriter(path, height, width, crs, transform, probabilities, {"k": "v"}) as writer:
        for top in range(0, height, 100):
            writer.write(top, 0, encoded[top : top + 100])
    return path


def probability_scene(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth probabilities and a validity mask whose edge does not fall on overview cells."""
    rows, cols = np.mgrid[0:height, 0:width]
    probability = (0.5 + 0.5 * np.sin(rows / 37.0) * np.cos(cols / 23.0)).astype(np.float32)
    valid = np.ones((height, width), bool)
    valid[:, :301] = False
    valid[:77] = False
    return probability, valid


@pytest.mark.parametrize("probabilities", [False, True])
def test_writer_makes_a_valid_cog_with_overviews_and_exact_values(probabilities, tmp_path):
    probability, valid = probability_scene(1000, 1000)
    encoded = encode(probability, valid, 0.5, probabilities)
    path = write_map(tmp_path / "m.tif", encoded, probabilities)

    assert [p.name for p in tmp_path.iterdir()] == ["m.tif"]  # no scratch file left
    is_valid, errors, _ = cog_validate(path)
    assert is_valid, errors
    with open_map(path) as dataset:
        assert dataset.overviews(1) == [2, 4]
        assert dataset.crs == CRS.from_string(UTM) and dataset.transform == TRANSFORM
        assert dataset.block_shapes == [(256, 256)] and dataset.compression.value == "DEFLATE"
        assert dataset.tags()["k"] == "v" and "hicd_version" in dataset.tags()
        np.testing.assert_array_equal(dataset.read(1), encoded)  # lossless, NaN included
        if probabilities:
            assert np.isnan(dataset.nodata)
        else:
            assert dataset.nodata == MAP_NODATA
    with open_map(path, OVERVIEW_LEVEL=0) as half:
        overview = half.read(1)
    assert overview.shape == (500, 500)
    if probabilities:  # average of the valid pixels of each 2×2 cell; NaN where none is valid
        cells = encoded.reshape(500, 2, 500, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmean(cells, axis=(1, 3))
        np.testing.assert_allclose(overview, expected, atol=1e-6, equal_nan=True)
    else:  # nearest: only stored values; nodata only where the cell is all nodata
        assert set(np.unique(overview)) <= {0, 1, MAP_NODATA}
        assert (overview[:38] == MAP_NODATA).all() and (overview[39:, 151:] != MAP_NODATA).all()


def test_small_and_pixel_grid_maps_are_cogs_too(tmp_path):
    encoded = encode(*probability_scene(90, 150)[:1], None, 0.5, False)
    path = write_map(tmp_path / "small.tif", encoded, False, crs=None)
    assert cog_validate(path)[0]
    with open_map(path) as dataset:
        assert dataset.crs is None and dataset.overviews(1) == []
        np.testing.assert_array_equal(dataset.read(1), encoded)


@pytest.mark.parametrize("failure", ["rows", "conversion"])
def test_interrupted_writer_leaves_no_file(failure, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    if failure == "conversion":
        monkeypatch.setattr(output.rasterio.shutil, "copy", interrupted)
    writer = ChangeMapWriter(tmp_path / "m.tif", 600, 600, None, None, False)
    with pytest.raises(KeyboardInterrupt), writer:
        writer.write(0, 0, np.zeros((300, 600), np.uint8))
        if failure == "rows":
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("probabilities", [False, True])
def test_predicted_map_is_a_cog_equal_to_in_memory_prediction(
    probabilities, local_net, geotiff, random_image, tmp_path
):
    a, b = random_image(1024, 1024, seed=1), random_image(1024, 1024, seed=2)
    t1 = geotiff(tmp_path / "t1.tif", a, pixel=0.5)
    t2 = geotiff(tmp_path / "t2.tif", b, pixel=0.5)
    detector = ChangeDetector(local_net, INFO, "cpu")
    expected = detector.predict(a, b, tile=256, overlap=64)
    out = tmp_path / "out" / "map.tif"
    detector.predict_files(
        t1, t2, out, tile=256, overlap=64, probabilities=probabilities, quicklook=False
    )
    assert [p.name for p in out.parent.iterdir()] == ["map.tif"]
    assert cog_validate(out) == (True, [], [])
    with open_map(out) as dataset, rasterio.open(t1) as source:
        assert dataset.overviews(1) == [2, 4]
        assert dataset.crs == source.crs and dataset.transform == source.transform
        assert dataset.tags()["hicd_encoding"] == ("probability" if probabilities else "binary")
        values = dataset.read(1)
    if probabilities:
        np.testing.assert_allclose(values, expected, atol=1e-5)
    else:
        np.testing.assert_array_equal(values, (expected >= 0.5).astype(np.uint8))


def ring_map() -> np.ndarray:
    """A 0/1 map: a square with a hole, a bar, and nodata on the left edge."""
    values = np.zeros((120, 160), np.uint8)
    values[10:50, 20:60] = 1
    values[20:30, 30:40] = 0  # the hole
    values[70:110, 100:110] = 1
    values[:, :5] = MAP_NODATA
    return values


def to_wgs84(coordinates: np.ndarray) -> np.ndarray:
    """N×2 easting/northing of the map's CRS as longitude/latitude, point by point."""
    return np.column_stack(transform_points(UTM, "EPSG:4326", *coordinates.T))


def load(path: Path) -> dict:
    with open(path) as stream:
        return json.load(stream)


def test_geojson_is_rfc7946_and_matches_the_native_polygons(tmp_path):
    change_map = write_map(tmp_path / "m.tif", ring_map(), False)
    assert write_change_polygons(change_map, tmp_path / "wgs84.geojson") == 2
    assert write_change_polygons(change_map, tmp_path / "native.geojson", vector_crs="native") == 2
    wgs84, native = load(tmp_path / "wgs84.geojson"), load(tmp_path / "native.geojson")

    assert "crs" not in wgs84
    assert native["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32631"
    holes = 0
    for geographic, projected in zip(wgs84["features"], native["features"], strict=True):
        assert geographic["properties"] == projected["properties"]  # area in m² either way
        polygon, local = shape(geographic["geometry"]), shape(projected["geometry"])
        assert polygon.is_valid and local.is_valid
        for ring in (polygon, local):
            assert ring.exterior.is_ccw and not any(hole.is_ccw for hole in ring.interiors)
        holes += len(polygon.interiors)
        transformed = shapely.transform(local, to_wgs84)
        assert polygon.normalize().equals_exact(transformed.normalize(), tolerance=1e-7)
        lon, lat = polygon.centroid.coords[0]
        assert 2.9 < lon < 3.1 and 36.0 < lat < 36.2  # UTM 31N, 4000 km north of the equator
    assert holes == 1
    square = next(f for f in native["features"] if f["properties"]["pixels"] == 1500)
    assert square["properties"]["area"] == 375.0  # 1500 px of 0.25 m²


def test_polygon_across_the_antimeridian_is_cut(tmp_path):
    (east,), (north,) = transform_points("EPSG:4326", "EPSG:32660", [180.0], [50.0])
    transform = Affine(10.0, 0.0, east - 400.0, 0.0, -10.0, north + 300.0)  # 180° mid-square
    change_map = write_map(
        tmp_path / "m.tif", ring_map(), False, crs="EPSG:32660", transform=transform
    )
    write_change_polygons(change_map, tmp_path / "v.geojson")
    geometries = [shape(f["geometry"]) for f in load(tmp_path / "v.geojson")["features"]]
    cut = [g for g in geometries if g.geom_type == "MultiPolygon"]
    assert len(cut) == 1 and all(g.is_valid for g in geometries)
    parts = list(cut[0].geoms)
    assert {np.sign(part.centroid.x) for part in parts} == {-1.0, 1.0}
    assert all(part.exterior.is_ccw for part in parts)


def test_pixel_grid_map_keeps_pixel_coordinates(tmp_path):
    change_map = write_map(tmp_path / "m.tif", ring_map(), False, crs=None)
    assert write_change_polygons(change_map, tmp_path / "v.geojson") == 2
    collection = load(tmp_path / "v.geojson")
    assert "crs" not in collection
    xs = [x for f in collection["features"] for x, _ in f["geometry"]["coordinates"][0]]
    assert (min(xs), max(xs)) == (20, 110)  # columns


def test_vector_crs_option(tiny_checkpoint, geotiff, random_image, tmp_path, capsys):
    t1 = geotiff(tmp_path / "t1.tif", random_image(64, 64, seed=1))
    t2 = geotiff(tmp_path / "t2.tif", random_image(64, 64, seed=2))
    detector = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu")
    with pytest.raises(ConfigError, match="vector_crs"):
        detector.predict_files(
            t1, t2, tmp_path / "x.tif", vector=tmp_path / "x.geojson", vector_crs="utm"
        )
    assert not (tmp_path / "x.tif").exists() and not (tmp_path / "x.geojson").exists()

    base = ["predict", "--checkpoint", str(tiny_checkpoint), "--quiet", "--no-quicklook"]
    base += ["--t1", str(t1), "--t2", str(t2), "--threshold", "0"]
    for name, option in (("default", []), ("native", ["--vector-crs", "native"])):
        out, vector = tmp_path / f"{name}.tif", tmp_path / f"{name}.geojson"
        assert main([*base, "--out", str(out), "--vector", str(vector), *option]) == 0
        collection = load(vector)
        x, _ = collection["features"][0]["geometry"]["coordinates"][0][0]
        if option:
            assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32631"
            assert x >= 500000.0  # write_geotiff's origin
        else:
            assert "crs" not in collection and 2.9 < x < 3.1
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "--vector-crs {wgs84,native}" in capsys.readouterr().out
