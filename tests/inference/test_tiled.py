"""Tiled prediction: agrees with a whole-image pass, exact when one tile covers the image."""

from __future__ import annotations

import pytest
import torch

from hicd.errors import ConfigError, DataError
from hicd.inference import tiled as tiled_module
from hicd.inference.device import resolve_device
from hicd.inference.tiled import blend_weights, predict_change_probability
from hicd.models import ChangeOutput


class LocalNet(torch.nn.Module):
    """A fully convolutional change model with a 5-pixel receptive field: tiles that overlap by
    more than that must reproduce the whole-image pass (exactly, away from tile edges)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(6, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 2, 3, padding=1),
        )

    def forward(self, t1: torch.Tensor, t2: torch.Tensor) -> ChangeOutput:
        return ChangeOutput(logits=4 * self.net(torch.cat([t1, t2], dim=1)))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model(calibrated_tiny_model) -> torch.nn.Module:
    return calibrated_tiny_model


def pair(height: int, width: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.rand(3, height, width, generator=generator),
        torch.rand(3, height, width, generator=generator),
    )


def whole_image(model: torch.nn.Module, t1: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(t1[None], t2[None]).logits.softmax(dim=1)[0, 1]


def test_overlapping_tiles_match_a_whole_image_pass() -> None:
    model = LocalNet().eval()
    t1, t2 = pair(100, 130)
    reference = whole_image(model, t1, t2)
    assert reference.std() > 0.05  # the comparison is not trivial
    tiled = predict_change_probability(model, t1, t2, tile=32, overlap=12, batch_size=3)
    assert tiled.shape == (100, 130) and tiled.dtype == torch.float32
    error = (tiled - reference).abs()
    assert float(error.mean()) < 2e-3 and float(error.max()) < 5e-2
    agree = ((tiled > 0.5) == (reference > 0.5)).float().mean()
    assert agree >= 0.99


def test_blending_downweights_tile_edges(monkeypatch) -> None:
    """Tile borders (zero-padded context) count less than with a plain average of the tiles."""
    model = LocalNet().eval()
    t1, t2 = pair(100, 130)
    reference = whole_image(model, t1, t2)
    blended = predict_change_probability(model, t1, t2, tile=32, overlap=12)
    monkeypatch.setattr(
        tiled_module, "blend_weights", lambda h, w, device=None: torch.ones(h, w, device=device)
    )
    averaged = predict_change_probability(model, t1, t2, tile=32, overlap=12)
    error, plain_error = (blended - reference).abs(), (averaged - reference).abs()
    assert float(error.max()) < float(plain_error.max()) / 2


def test_one_tile_covering_the_image_is_exactly_a_single_pass(model) -> None:
    t1, t2 = pair(61, 83)
    probability = predict_change_probability(model, t1, t2, tile=96, overlap=16)
    assert torch.equal(probability, whole_image(model, t1, t2))
    assert probability.shape == (61, 83)
    assert probability.min() >= 0 and probability.max() <= 1


def test_odd_sizes_batches_and_determinism(model) -> None:
    t1, t2 = pair(70, 101, seed=2)
    first = predict_change_probability(model, t1, t2, tile=48, overlap=8, batch_size=5)
    again = predict_change_probability(model, t1, t2, tile=48, overlap=8, batch_size=2)
    assert first.shape == (70, 101) and torch.isfinite(first).all()
    assert torch.allclose(first, again, atol=1e-5)
    assert first.min() >= 0 and first.max() <= 1

    batched = predict_change_probability(
        model, torch.stack([t1, t1.flip(-1)]), torch.stack([t2, t2.flip(-1)]), tile=48, overlap=8
    )
    assert batched.shape == (2, 70, 101)
    assert torch.allclose(batched[0], first, atol=1e-5)


def test_blend_weights_are_smooth_symmetric_and_positive() -> None:
    weights = blend_weights(16, 10)
    assert weights.shape == (16, 10)
    assert weights.min() > 0 and weights.max() <= 1
    assert torch.allclose(weights, weights.flip(0)) and torch.allclose(weights, weights.flip(1))
    assert weights[8, 5] > weights[0, 5] > 0


def test_bad_inputs(model) -> None:
    t1, t2 = pair(32, 32)
    with pytest.raises(DataError, match="same shape"):
        predict_change_probability(model, t1, t2[:, :16])
    with pytest.raises(ConfigError, match="overlap"):
        predict_change_probability(model, t1, t2, tile=16, overlap=16)
    with pytest.raises(ConfigError, match="batch_size"):
        predict_change_probability(model, t1, t2, batch_size=0)
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("nonsense")
