"""Fixtures of the prediction tests: tiny checkpoints, deterministic fake models, GeoTIFF writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from hicd.models import ChangeOutput, create_model
from hicd.models.checkpoint import CheckpointInfo, save_model_checkpoint

CRS = "EPSG:32631"
ORIGIN = (500000.0, 4000000.0)


class BrightnessModel(torch.nn.Module):
    """Pixelwise fake model: change where t2's mean brightness exceeds 0.5 (t1 is ignored)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(40.0), requires_grad=False)

    def forward(self, t1: torch.Tensor, t2: torch.Tensor) -> ChangeOutput:
        change = self.scale * (t2.mean(dim=1, keepdim=True) - 0.5)
        return ChangeOutput(logits=torch.cat([torch.zeros_like(change), change], dim=1))


class LocalNet(torch.nn.Module):
    """Fully convolutional fake model with a 5-pixel receptive field."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(6, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 2, 3, padding=1),
        )
        with torch.no_grad():
            for parameter in self.net.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)

    def forward(self, t1: torch.Tensor, t2: torch.Tensor) -> ChangeOutput:
        return ChangeOutput(logits=4 * self.net(torch.cat([t1, t2], dim=1)))


FAKE_INFO = CheckpointInfo(model_config={"name": "fake", "in_channels": 3}, tile_size=64)


def tiny_model() -> torch.nn.Module:
    """The smallest real network, with BatchNorm statistics fitted to random images so that
    its change probability varies over an image."""
    torch.manual_seed(0)
    model = create_model(
        "siam_fpn", backbone="tv_mobilenet_v2", pretrained=None, decoder_channels=16
    )
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64, generator=generator), torch.rand(2, 3, 64, 64))
    return model.eval()


@pytest.fixture(scope="session")
def calibrated_tiny_model() -> torch.nn.Module:
    """``tiny_model()``, built once."""
    return tiny_model()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint of ``tiny_model`` trained on 64-px tiles (as far as its metadata says)."""
    model = tiny_model()
    path = tmp_path_factory.mktemp("checkpoint") / "tiny.ckpt"
    return save_model_checkpoint(path, model, CheckpointInfo(model.config, tile_size=64))


def write_geotiff(
    path: Path,
    array: np.ndarray,
    pixel: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
    crs: str | None = CRS,
    nodata: float | None = None,
) -> Path:
    """Write a C×H×W array as a GeoTIFF whose top-left corner is ``offset`` (x east, y south,
    in metres) from ``ORIGIN``, with square pixels of ``pixel`` metres."""
    count, height, width = array.shape
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": count,
        "dtype": array.dtype.name,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
        profile["transform"] = Affine(
            pixel, 0.0, ORIGIN[0] + offset[0], 0.0, -pixel, ORIGIN[1] - offset[1]
        )
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(array)
    return path


@pytest.fixture
def geotiff():
    """The ``write_geotiff`` helper."""
    return write_geotiff


@pytest.fixture
def random_image():
    def make(height: int, width: int, seed: int = 0, bands: int = 3) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, 256, (bands, height, width), np.uint8)

    return make


@pytest.fixture
def brightness_detector():
    """A ``ChangeDetector`` around ``BrightnessModel`` (3 bands, 64-px tiles), on the CPU."""
    from hicd.api import ChangeDetector

    return ChangeDetector(BrightnessModel(), FAKE_INFO, "cpu")


@pytest.fixture
def local_net() -> torch.nn.Module:
    return LocalNet().eval()


@pytest.fixture(scope="session")
def tiny() -> torch.nn.Module:
    """``tiny_model()``, built once."""
    return tiny_model()
