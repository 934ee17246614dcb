"""The prediction speed-ups change no result: reads prefetched in a thread, the quick-look
written beside the COG, the default overlap and CPU batch, on a real LEVIR-CD tile."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

from hicd.api import ChangeDetector
from hicd.defaults import batch_size_for, overlap_for
from hicd.inference.quicklook import write_quicklook
from hicd.inference.raster import RasterSource, open_raster
from hicd.inference.streaming import stream_change_probability

from .conftest import write_geotiff
from .test_streaming import assemble, reader


@pytest.fixture(scope="module")
def levir_tile(shared_data) -> tuple[np.ndarray, np.ndarray]:
    """A 320×448 window of the full LEVIR-CD tile test_1, both dates, C×H×W uint8."""
    folder = shared_data / "levir-cd-1024-extra"
    return tuple(
        np.asarray(Image.open(folder / date / "test_1.png").convert("RGB"))[300:620, 200:648]
        .transpose(2, 0, 1)
        .copy()
        for date in ("A", "B")
    )


def test_prefetched_reads_give_the_same_probabilities(tiny, levir_tile):
    t1, t2 = (torch.from_numpy(a).float() / 255 for a in levir_tile)
    height, width = t1.shape[-2:]
    maps = []
    for prefetch in (False, True):
        chunks = stream_change_probability(
            tiny, reader(t1, t2), height, width, 128, 32, 2, prefetch=prefetch
        )
        maps.append(assemble(chunks, height, width)[0])
    assert maps[0].std() > 1e-3
    np.testing.assert_array_equal(maps[1], maps[0])


def test_default_path_matches_fp32_torch_on_a_real_tile(tiny_checkpoint, levir_tile, tmp_path):
    """ONNX Runtime, prefetched reads, the default overlap and batch (what ``hicd predict``
    runs) against PyTorch fp32 in memory with the same windows: probabilities within 1e-4."""
    t1 = write_geotiff(tmp_path / "t1.tif", levir_tile[0], pixel=0.5)
    t2 = write_geotiff(tmp_path / "t2.tif", levir_tile[1], pixel=0.5)
    fast = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu")  # auto: ONNX Runtime
    result = fast.predict_files(t1, t2, tmp_path / "map.tif", probabilities=True)
    reference = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu", engine="torch")
    expected = reference.predict(*levir_tile, tile=64, overlap=overlap_for(64), batch_size=4)
    with rasterio.open(result.out) as dataset:
        actual = dataset.read(1)
        assert dataset.tags()["hicd_overlap"] == str(overlap_for(64))
    assert expected.std() > 1e-3
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)


def test_the_quicklook_written_beside_the_cog_equals_one_written_after(
    tiny_checkpoint, levir_tile, tmp_path
):
    t1 = write_geotiff(tmp_path / "t1.tif", levir_tile[0], pixel=0.5)
    t2 = write_geotiff(tmp_path / "t2.tif", levir_tile[1], pixel=0.5)
    detector = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu")
    result = detector.predict_files(t1, t2, tmp_path / "map.tif", threshold=0.3)
    with open_raster(t1) as dataset:
        source = RasterSource(dataset, [1, 2, 3], 1.0, [], t1)
        later = write_quicklook(source, result.out, tmp_path / "later.png", threshold=0.3)
    assert Image.open(result.quicklook).tobytes() == Image.open(later).tobytes()


def test_cpu_batch_default_is_one():
    assert batch_size_for("cpu") == 1
