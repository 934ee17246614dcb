"""pad_to_multiple and the state-dict reader's edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hicd.errors import DataError
from hicd.models.padding import pad_to_multiple
from hicd.models.pretrained import read_state_dict


def test_pads_bottom_right_by_reflection() -> None:
    x = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(1, 2, 5, 3)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (1, 2, 8, 4)
    assert torch.equal(padded[..., :5, :3], x)
    assert torch.equal(padded[..., 5, :3], x[..., 3, :])  # mirrored about the last row


def test_multiple_sizes_are_untouched() -> None:
    x = torch.randn(1, 1, 8, 16)
    assert pad_to_multiple(x, 8) is x


def test_too_small_for_reflection_falls_back_to_zeros() -> None:
    x = torch.ones(1, 1, 3, 2)
    padded = pad_to_multiple(x, 8)
    assert padded.shape == (1, 1, 8, 8)
    assert padded.sum() == x.sum()


def test_state_dict_of_non_tensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.pth"
    torch.save({"epoch": 3}, path)
    with pytest.raises(DataError, match=r"odd\.pth does not hold a state dict"):
        read_state_dict(path)
