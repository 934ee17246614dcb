"""Random draws of one image's parameters and fields from one CPU generator.

All draws use a CPU ``torch.Generator`` (or torch's default CPU RNG when None), so the
parameters and noise of an image never depend on the device the image lives on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TypeVar

import torch

T = TypeVar("T")


def sample_generator(seed: int, name: str, setting_name: str) -> torch.Generator:
    """CPU generator seeded from SHA-256 of the JSON array ``[seed, name, setting_name]``."""
    payload = json.dumps([seed, name, setting_name]).encode("utf-8")
    value = int.from_bytes(hashlib.sha256(payload).digest()[:8], "big") & (2**63 - 1)
    return torch.Generator(device="cpu").manual_seed(value)


class Draw:
    """Parameter draws from one generator, in float64 so recorded values are exact."""

    def __init__(self, generator: torch.Generator | None) -> None:
        self.generator = generator

    def uniform(self, low: float, high: float) -> float:
        u = torch.rand((), dtype=torch.float64, generator=self.generator).item()
        return low + (high - low) * u

    def integer(self, low: int, high: int) -> int:
        """Uniform integer in [low, high], both inclusive."""
        return int(torch.randint(low, high + 1, (), generator=self.generator).item())

    def choice(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def normal(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.randn(tuple(shape), dtype=torch.float32, generator=self.generator)

    def field(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.rand(tuple(shape), dtype=torch.float64, generator=self.generator)
