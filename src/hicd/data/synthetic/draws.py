"""The scalar random draws of one scene, from its ``numpy.random.Generator``."""

from __future__ import annotations

import bisect

import numpy as np

from hicd.data.synthetic.raster import planar_colour


class Draws:
    """Scalar random draws, taken from the generator in batches (numpy's per-call cost dominates
    single draws). Normal draws use the Irwin–Hall sum, so only arithmetic is involved."""

    def __init__(self, rng: np.random.Generator, batch: int = 256) -> None:
        self.rng, self.batch = rng, batch
        self._pool: list[float] = []

    def random(self) -> float:
        if not self._pool:
            self._pool = self.rng.random(self.batch).tolist()
        return self._pool.pop()

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def normal(self, sd: float) -> float:
        return (
            (self.random() + self.random() + self.random() + self.random() - 2.0) * sd * 1.7320508
        )

    def index(self, n: int) -> int:
        return int(self.random() * n)

    def choice(self, cdf: tuple[float, ...]) -> int:
        """Index drawn with cumulative probabilities ``cdf`` (last entry 1)."""
        return bisect.bisect_right(cdf, self.random())

    def colour(
        self, palette: np.ndarray, jitter: float, cdf: tuple[float, ...] | None = None
    ) -> np.ndarray:
        """A palette entry (uniform or by ``cdf``), each channel scaled by 1 ± jitter."""
        row = self.choice(cdf) if cdf else self.index(len(palette))
        return planar_colour(
            [c * self.uniform(1 - jitter, 1 + jitter) for c in palette[row].tolist()]
        )
