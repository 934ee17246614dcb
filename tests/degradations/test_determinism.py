from __future__ import annotations

import json

import pytest
import torch

from hicd.degradations import Degrader, expand_settings
from hicd.errors import ConfigError, HicdError

FAMILIES = expand_settings(
    "resolution-x4,multi-x2,multi-x4,multi-x8,single-gaussian_blur-s2,single-motion_blur-s3,"
    "single-gaussian_noise-s2,single-jpeg-s4,single-haze-s3,single-low_light-s1"
)
NAMES = ["tile_a", "tile_b", "tile_c"]


@pytest.fixture
def batch(textured) -> torch.Tensor:
    return textured(3, 3, 40, 36)


@pytest.mark.parametrize("setting", FAMILIES, ids=str)
def test_repeatable_and_independent_of_batch(setting, batch) -> None:
    out, records = Degrader(setting, seed=11)(batch, NAMES)
    again, again_records = Degrader(setting, seed=11)(batch, NAMES)
    assert torch.equal(out, again) and records == again_records
    json.dumps(records)
    for i, name in enumerate(NAMES):
        alone, alone_records = Degrader(setting, seed=11)(batch[i : i + 1], [name])
        assert torch.equal(alone[0], out[i]), name
        assert alone_records[0] == records[i]
    order = [2, 0, 1]
    shuffled, _ = Degrader(setting, seed=11)(batch[order], [NAMES[i] for i in order])
    assert torch.equal(shuffled, out[order])


def test_seed_and_name_change_the_draw(batch) -> None:
    base, base_records = Degrader("multi-x4", seed=1)(batch, NAMES)
    other_seed, seed_records = Degrader("multi-x4", seed=2)(batch, NAMES)
    renamed, _ = Degrader("multi-x4", seed=1)(batch, ["x", "y", "z"])
    assert not torch.equal(base, other_seed) and base_records != seed_records
    assert not torch.equal(base, renamed)


def test_same_image_under_two_names_in_one_batch_differs(textured) -> None:
    image = textured(1, 3, 32, 32).expand(2, -1, -1, -1)
    out, _ = Degrader("single-gaussian_noise-s1", seed=0)(image, ["a", "b"])
    assert not torch.equal(out[0], out[1])


def test_random_mode_draws_fresh_parameters(batch) -> None:
    degrader = Degrader("multi-x4")
    first, first_records = degrader(batch)
    second, second_records = degrader(batch)
    assert not torch.equal(first, second) and first_records != second_records


def test_random_mode_follows_the_generator(batch) -> None:
    degrader = Degrader("single-motion_blur-s2")
    one, one_records = degrader(batch, generator=torch.Generator().manual_seed(5))
    two, two_records = degrader(batch, generator=torch.Generator().manual_seed(5))
    assert torch.equal(one, two) and one_records == two_records
    angles = {r["ops"][0]["angle"] for r in one_records}
    assert len(angles) == 3  # each sample draws its own parameters


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (None, "needs one name per image"),
        (["a", "b"], "needs one name per image"),
        ("abc", "needs one name per image"),
        (["a", "b", 3], "must be strings"),
    ],
)
def test_deterministic_mode_needs_names(names, message: str, batch) -> None:
    with pytest.raises(ConfigError, match=message):
        Degrader("multi-x4", seed=0)(batch, names)


def test_generator_with_seed_is_rejected(batch) -> None:
    with pytest.raises(ConfigError, match="generator is unused when seed is set"):
        Degrader("multi-x4", seed=0)(batch, NAMES, generator=torch.Generator())


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.rand(3, 8, 8), r"B×C×H×W tensor, got \(3, 8, 8\)"),
        (torch.rand(0, 3, 8, 8), "non-empty"),
        (torch.ones(1, 3, 8, 8, dtype=torch.uint8), "floating point"),
        (torch.full((1, 3, 8, 8), 1.5), r"\[0, 1\]"),
        (torch.full((1, 3, 8, 8), -0.1), r"\[0, 1\]"),
        (torch.full((1, 3, 8, 8), float("nan")), r"\[0, 1\]"),
        ([[0.5]], "must be a torch.Tensor"),
    ],
)
def test_bad_images_raise(images, message: str) -> None:
    with pytest.raises(HicdError, match=message):
        Degrader("resolution-x2")(images)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("resolution-x3",), "'resolution-x3'"),
        (("multi-x4", "7"), "seed must be an int"),
        ((3,), "must be a DegradationSetting"),
    ],
)
def test_bad_degrader_arguments_raise(args: tuple, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Degrader(*args)
