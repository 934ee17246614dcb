"""AdamW and the per-step learning-rate schedules of :class:`OptimConfig`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from hicd.training.config import OptimConfig

Shape = Callable[[float, OptimConfig], float]

SCHEDULE_SHAPES: dict[str, Shape] = {
    "cosine": lambda p, c: (
        c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p))
    ),
    "poly": lambda p, c: c.min_lr_ratio + (1 - c.min_lr_ratio) * (1 - p) ** c.poly_power,
    "constant": lambda p, c: 1.0,
}
"""Learning-rate factor as a function of the progress p in [0, 1] after warm-up."""


def lr_factor(config: OptimConfig, total_steps: int) -> Callable[[int], float]:
    """The factor of ``config.lr`` at each optimiser step of a run of ``total_steps``."""
    warmup = config.warmup_steps
    decay_steps = max(total_steps - warmup, 1)
    shape = SCHEDULE_SHAPES[config.schedule]

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return shape(min((step - warmup) / decay_steps, 1.0), config)

    return factor


def configure_adamw(
    parameters: Iterable[nn.Parameter], config: OptimConfig, total_steps: int
) -> dict[str, Any]:
    """AdamW over ``parameters`` and its schedule, in Lightning's ``configure_optimizers`` form."""
    optimizer = torch.optim.AdamW(
        [p for p in parameters if p.requires_grad],
        lr=config.lr,
        betas=config.betas,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, total_steps))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
