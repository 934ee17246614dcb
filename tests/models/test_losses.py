"""The change-detection loss: ignored pixels, optional Dice, shape errors, options."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hicd.errors import ConfigError, DataError
from hicd.models.losses import TaskLossConfig, change_detection_loss


def test_ce_ignores_pixels_and_accepts_channel_mask():
    logits = torch.randn(2, 2, 4, 4)
    mask = torch.randint(0, 2, (2, 1, 4, 4))
    mask[0, 0, 0] = 255
    got = change_detection_loss(logits, mask)["cd"]
    expected = F.cross_entropy(logits, mask[:, 0], ignore_index=255)
    torch.testing.assert_close(got, expected)


def test_all_ignored_gives_zero_not_nan():
    logits = torch.randn(1, 2, 3, 3, requires_grad=True)
    terms = change_detection_loss(logits, torch.full((1, 3, 3), 255), dice_weight=1.0)
    assert terms["cd/ce"].item() == 0.0 and torch.isfinite(terms["cd"])


def test_dice_of_perfect_prediction_is_small():
    mask = torch.zeros(1, 4, 4, dtype=torch.long)
    mask[0, :2] = 1
    logits = torch.stack([(1 - mask) * 20.0, mask * 20.0], dim=1).float()
    terms = change_detection_loss(logits, mask, dice_weight=2.0)
    assert terms["cd/dice"].item() < 1e-6
    torch.testing.assert_close(terms["cd"], terms["cd/ce"] + 2.0 * terms["cd/dice"])


def test_mask_shape_mismatch():
    with pytest.raises(DataError, match=r"\(2, 8, 8\).*\(2, 2, 4, 4\)"):
        change_detection_loss(torch.zeros(2, 2, 4, 4), torch.zeros(2, 8, 8))


def test_task_loss_config_applies_its_options():
    logits = torch.randn(2, 2, 4, 4)
    mask = torch.randint(0, 2, (2, 4, 4))
    mask[1, 0] = 7
    got = TaskLossConfig(dice_weight=0.5, ignore_index=7)(logits, mask)
    expected = change_detection_loss(logits, mask, ignore_index=7, dice_weight=0.5)
    assert got.keys() == expected.keys()
    for name in got:
        torch.testing.assert_close(got[name], expected[name])
    with pytest.raises(ConfigError, match=r"loss\.dice_weight: must be ≥ 0"):
        TaskLossConfig(dice_weight=-1.0)
