"""Batching of sample dicts: tensors are stacked, everything else is kept as a list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def collate_samples(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack the tensor fields of equally shaped samples; names and records become lists."""
    batch: dict[str, Any] = {}
    for key in samples[0]:
        values = [sample[key] for sample in samples]
        batch[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return batch
