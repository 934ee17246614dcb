import random

import pytest
import torch

from hicd.data.transforms import RandomDateSwap, training_transform


def coordinate_sample(height: int = 40, width: int = 56) -> dict:
    """t1, t2 and mask all encode the pixel index, so any geometric mismatch shows."""
    index = torch.arange(height * width, dtype=torch.float32).reshape(1, height, width)
    return {
        "t1": index.repeat(3, 1, 1),
        "t2": index.repeat(3, 1, 1) * 2,
        "mask": index[0].long(),
        "name": "x",
        "degraded_date": "t2",
    }


@pytest.mark.parametrize("seed", range(8))
def test_crop_flip_rotation_shared_by_dates_and_mask(seed: int) -> None:
    torch.manual_seed(seed)
    out = training_transform(crop_size=24)(coordinate_sample())
    assert out["t1"].shape == (3, 24, 24) and out["mask"].shape == (24, 24)
    assert torch.equal(out["t1"][0].long(), out["mask"])
    assert torch.equal(out["t2"][0], 2 * out["t1"][0])
    assert out["name"] == "x"


def test_rotations_and_flips_happen() -> None:
    outputs = set()
    for seed in range(40):
        torch.manual_seed(seed)
        out = training_transform(crop_size=None)(coordinate_sample(8, 8))
        outputs.add(tuple(out["mask"].flatten()[:3].tolist()))
    assert len(outputs) == 8  # the 8 symmetries of the square


def test_small_images_are_padded_with_ignore() -> None:
    sample = {**coordinate_sample(40, 56), "mask": torch.zeros(40, 56, dtype=torch.int64)}
    out = training_transform(crop_size=64, flips=False, rot90=False)(sample)
    assert out["t1"].shape == (3, 64, 64)
    assert (out["mask"] == 255).sum() == 64 * 64 - 40 * 56


def test_date_swap_carries_degraded_flag() -> None:
    random.seed(0)
    sample = coordinate_sample()
    swapped = RandomDateSwap(p=1.0)(sample)
    assert torch.equal(swapped["t1"], sample["t2"]) and torch.equal(swapped["t2"], sample["t1"])
    assert swapped["degraded_date"] == "t1"
    assert RandomDateSwap(p=0.0)(sample) is sample
