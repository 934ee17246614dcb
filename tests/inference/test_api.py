"""``hicd.ChangeDetector``: in-memory prediction of arrays and tensors, folders of pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import hicd
from hicd.api import PredictOptions, plan_folders
from hicd.errors import ConfigError, DataError
from hicd.inference.tiled import predict_change_probability


@pytest.fixture(scope="module")
def detector(tiny_checkpoint):
    return hicd.ChangeDetector.from_checkpoint(tiny_checkpoint, device="cpu")


def test_numpy_in_numpy_out_any_layout_and_pixel_type(detector, random_image):
    chw = random_image(70, 150, seed=4)
    hwc = chw.transpose(1, 2, 0)
    probability = detector.predict(hwc, hwc[::-1].copy())
    assert isinstance(probability, np.ndarray) and probability.dtype == np.float32
    assert probability.shape == (70, 150) and 0 <= probability.min() <= probability.max() <= 1
    np.testing.assert_array_equal(detector.predict(chw, chw[:, ::-1].copy()), probability)
    # uint16 and float inputs are scaled by their type
    as16 = hwc.astype(np.uint16) * 257
    np.testing.assert_allclose(detector.predict(as16, as16[::-1].copy()), probability, atol=1e-5)
    as_float = hwc.astype(np.float32) / 255
    np.testing.assert_allclose(
        detector.predict(as_float, as_float[::-1].copy()), probability, atol=1e-5
    )


def test_tiles_default_to_the_checkpoint_and_match_the_tiled_function(detector, random_image):
    a = torch.from_numpy(random_image(90, 100, seed=5)).float() / 255
    b = torch.from_numpy(random_image(90, 100, seed=6)).float() / 255
    probability = detector.predict(a, b)  # tile 64 (checkpoint), overlap 16
    assert isinstance(probability, torch.Tensor) and probability.shape == (90, 100)
    expected = predict_change_probability(detector.model, a, b, tile=64, overlap=16)
    torch.testing.assert_close(probability, expected)
    batched = detector.predict(torch.stack([a, b]), torch.stack([b, a]), tile=48, overlap=8)
    assert batched.shape == (2, 90, 100)


def test_bad_inputs_name_the_problem(detector, random_image):
    image = random_image(40, 40).transpose(1, 2, 0)
    with pytest.raises(DataError, match=r"t2: shape .* no axis of 3 bands"):
        detector.predict(image, np.zeros((40, 40, 4), np.uint8))
    with pytest.raises(DataError, match="differ in shape"):
        detector.predict(image, image[:20])
    with pytest.raises(DataError, match="both be numpy arrays or both be tensors"):
        detector.predict(image, torch.zeros(3, 40, 40))
    with pytest.raises(DataError, match="t1: has 4 bands"):
        detector.predict(torch.zeros(4, 40, 40), torch.zeros(4, 40, 40))


def test_predict_folders_pairs_by_name(brightness_detector, png_writer, tmp_path):
    for name in ("b_scene", "a_scene"):
        png_writer(tmp_path / "A" / f"{name}.png", np.zeros((40, 30, 3)))
        png_writer(tmp_path / "B" / f"{name}.png", np.full((40, 30, 3), 255))
    results = brightness_detector.predict_folders(
        tmp_path / "A", tmp_path / "B", tmp_path / "out", vector_dir=tmp_path / "vec"
    )
    assert [r.out.name for r in results] == ["a_scene.tif", "b_scene.tif"]
    assert all(r.changed_pixels == 40 * 30 for r in results)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a_scene.png", "a_scene.tif", "b_scene.png", "b_scene.tif"
    ]  # fmt: skip
    assert (tmp_path / "vec" / "a_scene.geojson").is_file()

    png_writer(tmp_path / "A" / "lonely.png", np.zeros((40, 30, 3)))
    with pytest.raises(DataError, match=r"lonely\.png: missing partner file"):
        brightness_detector.predict_folders(tmp_path / "A", tmp_path / "B", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_predict_folders_resume_skips_complete_pairs(brightness_detector, png_writer, tmp_path):
    names = ("p0", "p1", "p2", "p3", "p4")
    for name in names:
        png_writer(tmp_path / "A" / f"{name}.png", np.zeros((40, 30, 3)))
        png_writer(tmp_path / "B" / f"{name}.png", np.full((40, 30, 3), 255))
    folders = (tmp_path / "A", tmp_path / "B", tmp_path / "out")
    brightness_detector.predict_folders(*folders, quicklook=False)
    (tmp_path / "out" / "p3.tif").unlink()
    plan = plan_folders(*folders, quicklook=False, resume=True)
    assert [job.name for job in plan.jobs] == ["p3"] and plan.skipped == ("p0", "p1", "p2", "p4")
    results = brightness_detector.predict_folders(*folders, quicklook=False, resume=True)
    assert [r.out.name for r in results] == ["p3.tif"]
    with pytest.raises(ConfigError, match=r"p0\.png does not \(an unfinished pair\)"):
        plan_folders(*folders, resume=True)  # the quick-looks were never asked for
    every = plan_folders(*folders, quicklook=False, overwrite=True)
    assert [[job.name for job in every.share(rank, 2)] for rank in (0, 1)] == [
        ["p0", "p2", "p4"], ["p1", "p3"]
    ]  # fmt: skip


def test_predict_options_are_checked_once_and_keywords_replace_fields():
    with pytest.raises(ConfigError, match="--threshold"):
        PredictOptions(threshold=1.5)
    with pytest.raises(ConfigError, match="--batch-size"):
        PredictOptions(batch_size=0)
    with pytest.raises(ConfigError, match="--overlap"):
        PredictOptions(tile=32, overlap=32)
    with pytest.raises(ConfigError, match="--vector-crs"):
        PredictOptions(vector_crs="mercator")
    base = PredictOptions(tile=64, quicklook=False)
    assert PredictOptions.build(base, threshold=0.3) == PredictOptions(
        tile=64, quicklook=False, threshold=0.3
    )
    assert PredictOptions.build(vector_crs="wgs84").vector_crs == "EPSG:4326"
