"""Seeded procedural bi-temporal aerial-like scenes with building-change labels.

Each scene has textured ground (soil and grass), roads, trees, roofed buildings and their cast
shadows. Between the two dates some buildings appear or disappear (label 1 on their footprint);
everything else differs only by nuisances that are not change: a global per-channel gain and
offset, a seasonal vegetation tint, a sub-pixel shift of the whole t2 image, different shadow
lengths and sensor noise. All pixel work is vectorised numpy using arithmetic only (no BLAS, no
transcendental functions), so a (seed, index, size) triple gives the same arrays bit for bit.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from PIL import Image

from hicd.errors import ConfigError

__all__ = [
    "DEFAULT_SPLITS",
    "SyntheticChangeDataset",
    "generate_pair",
    "write_synthetic_dataset",
]

Size = int | tuple[int, int]
DEFAULT_SPLITS: Mapping[str, int] = MappingProxyType({"train": 64, "val": 16, "test": 16})

_F32 = np.float32
_MIN_SIDE = 16
_NOISE_BASE = 4  # noise octaves are summed on a grid this many pixels apart
_CHANGE_PROBABILITY = 0.85  # share of scenes with changed buildings
_REF_AREA = 256 * 256  # densities below are given per 256×256 pixels (about 0.5 m per pixel)

_SOIL = np.array(
    [[0.55, 0.46, 0.35], [0.63, 0.56, 0.45], [0.47, 0.40, 0.33], [0.70, 0.64, 0.54]], _F32
)
_GRASS = np.array(
    [[0.36, 0.42, 0.23], [0.46, 0.47, 0.29], [0.29, 0.37, 0.20], [0.53, 0.50, 0.34]], _F32
)
_TREE = np.array([[0.13, 0.20, 0.10], [0.18, 0.24, 0.13], [0.11, 0.17, 0.12]], _F32)
_PAVEMENT = np.array([[0.34, 0.34, 0.35], [0.45, 0.45, 0.45], [0.60, 0.59, 0.57]], _F32)
_ROOF = np.array(
    [
        [0.33, 0.33, 0.34],  # dark shingles
        [0.50, 0.50, 0.50],  # grey shingles
        [0.60, 0.58, 0.55],  # light grey
        [0.46, 0.37, 0.30],  # brown
        [0.64, 0.34, 0.25],  # terracotta
        [0.80, 0.79, 0.76],  # white membrane
        [0.36, 0.46, 0.60],  # blue metal
        [0.67, 0.61, 0.50],  # beige
    ],
    _F32,
)
_ROOF_CDF = (0.22, 0.44, 0.58, 0.70, 0.80, 0.88, 0.93, 1.0)  # cumulative shares of _ROOF
_MARKING = np.array([[0.92], [0.91], [0.85]], _F32)
# Seasonal multiplicative tints of vegetation (dry/autumn, lush/spring, pale/winter).
_TINTS = np.array([[0.30, 0.10, -0.12], [-0.15, 0.08, -0.10], [0.15, 0.05, 0.10]], _F32)


@dataclass(frozen=True)
class _Building:
    top: int
    left: int
    patch: np.ndarray  # planar roof colours, 3 × bh × bw
    shadow: float  # shadow length in pixels
    present: tuple[bool, bool]  # (at t1, at t2)

    @property
    def rows(self) -> slice:
        return slice(self.top, self.top + self.patch.shape[1])

    @property
    def cols(self) -> slice:
        return slice(self.left, self.left + self.patch.shape[2])


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def generate_pair(
    seed: int, index: int = 0, size: Size = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One bi-temporal scene: t1 and t2 (uint8 H×W×3) and the change mask (uint8 H×W, 0/1).

    ``size`` is an int (square) or ``(H, W)``. The same ``(seed, index, size)`` always gives
    identical arrays.
    """
    h, w = _parse_size(size)
    for option, value in (("seed", seed), ("index", index)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ConfigError(f"generate_pair: {option} must be a non-negative int, got {value!r}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(index)])))
    return _Scene(rng, h, w).render()


class SyntheticChangeDataset(torch.utils.data.Dataset):
    """``num_pairs`` generated scenes, produced on the fly (nothing is stored).

    Items are dicts with ``t1`` and ``t2`` (float32 3×H×W in [0, 1]), ``mask`` (int64 H×W,
    1 = change) and ``name`` (``synthetic_{seed}_{i:05d}``).
    """

    def __init__(self, num_pairs: int, size: Size = 256, seed: int = 0) -> None:
        if isinstance(num_pairs, bool) or not isinstance(num_pairs, int) or num_pairs < 0:
            raise ConfigError(f"SyntheticChangeDataset: num_pairs must be >= 0, got {num_pairs!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"SyntheticChangeDataset: seed must be >= 0, got {seed!r}")
        self.num_pairs = num_pairs
        self.size = _parse_size(size)
        self.seed = seed

    def __len__(self) -> int:
        return self.num_pairs

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.num_pairs:
            raise IndexError(
                f"SyntheticChangeDataset: index {i} out of range 0..{self.num_pairs - 1}"
            )
        t1, t2, mask = generate_pair(self.seed, i, self.size)
        return {
            "t1": _to_tensor(t1),
            "t2": _to_tensor(t2),
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "name": f"synthetic_{self.seed}_{i:05d}",
        }


def write_synthetic_dataset(
    root: str | Path,
    splits: Mapping[str, int] = DEFAULT_SPLITS,
    size: Size = 256,
    seed: int = 0,
) -> Path:
    """Write generated pairs in the generic layout and return ``root``.

    Layout: ``root/A/<name>.png``, ``root/B/<name>.png``, ``root/label/<name>.png`` (0/255) and
    ``root/list/<split>.txt`` (one file name per line). Splits take consecutive, disjoint scene
    indices, so no scene is shared between splits; a split of 0 pairs gets no list file.
    """
    h, w = _parse_size(size)
    for split, count in splits.items():
        if not split or "/" in split or "\\" in split:
            raise ConfigError(f"write_synthetic_dataset: invalid split name {split!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(
                f"write_synthetic_dataset: splits[{split!r}] must be >= 0, got {count!r}"
            )
    root = Path(root)
    folders = {key: root / key for key in ("A", "B", "label", "list")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    start = 0
    for split, count in splits.items():
        names = []
        for index in range(start, start + count):
            t1, t2, mask = generate_pair(seed, index, (h, w))
            name = f"synthetic_{seed}_{index:05d}.png"
            Image.fromarray(t1).save(folders["A"] / name, compress_level=1)
            Image.fromarray(t2).save(folders["B"] / name, compress_level=1)
            Image.fromarray(mask * np.uint8(255)).save(folders["label"] / name, compress_level=1)
            names.append(name)
        start += count
        if names:
            (folders["list"] / f"{split}.txt").write_text("\n".join(names) + "\n")
    return root


# ---------------------------------------------------------------------------------------------
# Scene generation. Images are planar (3 × H × W) float32 until the final conversion: numpy
# broadcasts a colour over a plane much faster than over a trailing axis of length 3.
# ---------------------------------------------------------------------------------------------


class _Draws:
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

    def colour(self, palette: np.ndarray, jitter: float, cdf: tuple[float, ...] | None = None):
        """A palette entry (uniform or by ``cdf``), each channel scaled by 1 ± jitter."""
        row = self.choice(cdf) if cdf else self.index(len(palette))
        return _colour([c * self.uniform(1 - jitter, 1 + jitter) for c in palette[row].tolist()])


class _Scene:
    """Draws one scene's random layout at construction; ``render`` makes both dates."""

    def __init__(self, rng: np.random.Generator, h: int, w: int) -> None:
        self.rng, self.draw, self.h, self.w = rng, _Draws(rng), h, w
        self.area_scale = h * w / _REF_AREA
        self.ys = np.arange(h, dtype=_F32)[:, None]
        self.xs = np.arange(w, dtype=_F32)[None, :]
        angle = self.draw.uniform(0.0, 2.0 * math.pi)
        self.sun = (math.sin(angle), math.cos(angle))  # direction shadows fall, (dy, dx)
        self.shade = _colour(np.array([0.40, 0.43, 0.54]) * self.draw.uniform(0.8, 1.15))
        self.grain = _random_bytes(rng, (h, w)).view(np.uint8) * _F32(1.0 / 255.0)
        self.image, self.veg = self._ground()
        self.occupied = self._roads()
        self.tree_shadow = self._trees()
        self.buildings = self._buildings()

    # -- layers ----------------------------------------------------------------------------

    def _fbm(self, cells: tuple[int, ...], gains: tuple[float, ...]) -> np.ndarray:
        """Value noise in [0, 1] on the coarse grid; ``_full`` brings it to pixel resolution."""
        return _fbm_grid(self.rng, self.h, self.w, cells, gains)

    def _full(self, grid: np.ndarray) -> np.ndarray:
        return _upsample(grid, self.h, self.w, _NOISE_BASE, smooth=False)

    def _ground(self) -> tuple[np.ndarray, np.ndarray]:
        draw = self.draw
        land = self._fbm((128, 64, 32, 16), (1.0, 0.6, 0.35, 0.2))
        detail = self._fbm((32, 16, 8, 4), (1.0, 0.7, 0.5, 0.35))
        grass_cover = draw.uniform(0.2, 0.8)
        veg = self._full(_smoothstep(grass_cover - 0.12, grass_cover + 0.12, land))
        soil, grass = draw.colour(_SOIL, 0.06), draw.colour(_GRASS, 0.06)
        image = veg * (grass - soil)
        image += soil
        brightness = self._full(0.8 + 0.3 * detail)
        brightness += 0.12 * self.grain
        image *= brightness
        return image, veg

    def _roads(self) -> np.ndarray:
        """Paint 0–3 roads; return the mask of pixels where buildings may not stand."""
        draw = self.draw
        occupied = np.zeros((self.h, self.w), bool)
        count = draw.choice((0.2, 0.6, 0.9, 1.0))
        if count == 0:
            return occupied
        shading = self._full(0.9 + 0.15 * self._fbm((8, 4), (1.0, 0.6)))
        shading += 0.06 * self.grain
        for _ in range(count):
            u, v, width = self._road_geometry()
            dist = np.abs(u)
            paving = draw.colour(_PAVEMENT, 0.04)
            if draw.random() < 0.5:  # kerb / sidewalk band
                walk = np.clip(width / 2 + 2.5 - dist, 0.0, 1.0)
                self._paint(walk, draw.colour(_PAVEMENT[2:], 0.03), shading)
                occupied |= walk > 0
            road = np.clip(width / 2 + 0.5 - dist, 0.0, 1.0)
            self._paint(road, paving, shading)
            occupied |= road > 0
            if width >= 10 and draw.random() < 0.7:
                period = draw.uniform(10.0, 18.0)
                centre = np.nonzero(dist < 0.8)
                dashes = v[centre] % period < period * 0.5
                self.image[:, centre[0][dashes], centre[1][dashes]] = _MARKING
        return _dilate(occupied, 2)

    def _road_geometry(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Across (u) and along (v) coordinates of a straight or curved road, and its width."""
        draw = self.draw
        axis = (0.0, 0.5 * math.pi, draw.uniform(0.0, math.pi))[draw.choice((0.4, 0.8, 1.0))]
        angle = axis + draw.normal(0.03)
        cy, cx = draw.uniform(0.1, 0.9) * self.h, draw.uniform(0.1, 0.9) * self.w
        ny, nx = math.sin(angle), math.cos(angle)
        dy, dx = self.ys - cy, self.xs - cx
        u = dx * nx + dy * ny
        v = dy * nx - dx * ny
        if draw.random() < 0.35:
            bend = draw.uniform(0.4, 1.5) * (1 if draw.random() < 0.5 else -1) / max(self.h, self.w)
            u += bend * v * v
        return u, v, draw.uniform(6.0, 16.0)

    def _trees(self) -> np.ndarray:
        """Paint woodland and scattered trees; return their soft cast-shadow map."""
        draw, h, w = self.draw, self.h, self.w
        cover = draw.uniform(0.0, 0.4)
        woods = _smoothstep(1.0 - cover, 1.08 - cover, self._fbm((96, 48, 24), (1.0, 0.5, 0.25)))
        crowns = self._full(self._fbm((12, 8, 4), (1.0, 0.5, 0.25)))
        height = np.clip((crowns - 0.35) * 2.5, 0.0, 1.0)
        height *= self._full(woods)
        for _ in range(round(draw.uniform(4, 40) * self.area_scale)):
            cy, cx = draw.index(h), draw.index(w)
            dome = _dome(round(draw.uniform(2.5, 7.0) * 2) / 2)
            if self.occupied[cy, cx]:
                continue
            r = dome.shape[0] // 2
            top, left = max(cy - r, 0), max(cx - r, 0)
            bottom, right = min(cy + r + 1, h), min(cx + r + 1, w)
            part = dome[top - cy + r : bottom - cy + r, left - cx + r : right - cx + r]
            np.maximum(height[top:bottom, left:right], part, out=height[top:bottom, left:right])
        height *= ~self.occupied
        canopy = np.clip(height * 4.0, 0.0, 1.0)
        sy, sx = self.sun
        shading = height - _shift(height, round(-2 * sy), round(-2 * sx))  # lit side
        shading *= 0.8
        shading += 0.5 * crowns + 0.75
        shading += 0.15 * self.grain
        self._paint(canopy, draw.colour(_TREE, 0.08), shading)
        np.maximum(self.veg * ~self.occupied, canopy, out=self.veg)
        length = draw.uniform(2.0, 5.0)
        shadow = _shift(canopy, round(length * sy), round(length * sx))
        shadow *= 1.0 - canopy
        return shadow

    def _buildings(self) -> list[_Building]:
        draw, h, w = self.draw, self.h, self.w
        hi = min(40, min(h, w) // 3)
        lo = min(8, hi)
        occupied = self.occupied.copy()
        buildings: list[_Building] = []

        def place(present: tuple[bool, bool], centre: tuple[float, float] | None) -> int:
            side = draw.uniform(lo, hi)
            short = max(round(side / draw.uniform(1.0, 2.0)), lo)
            bh, bw = (round(side), short) if draw.random() < 0.5 else (short, round(side))
            if centre is None:
                top, left = draw.index(h - bh + 1), draw.index(w - bw + 1)
            else:
                top = int(min(max(centre[0] + draw.normal(35) - bh / 2, 0), h - bh))
                left = int(min(max(centre[1] + draw.normal(35) - bw / 2, 0), w - bw))
            gap = 3
            if occupied[
                max(top - gap, 0) : top + bh + gap, max(left - gap, 0) : left + bw + gap
            ].any():
                return 0
            occupied[top : top + bh, left : left + bw] = True
            patch = _roof(draw, bh, bw, self.sun, self.grain[top : top + bh, left : left + bw])
            buildings.append(_Building(top, left, patch, draw.uniform(2.5, 8.0), present))
            return bh * bw

        for _ in range(round(draw.uniform(6, 40) * self.area_scale)):
            place((True, True), None)
        if draw.random() < _CHANGE_PROBABILITY:
            target = draw.uniform(0.02, 0.12) * h * w
            cap = 0.15 * h * w
            appear = draw.uniform(0.3, 0.9)
            centre = (draw.random() * h, draw.random() * w) if draw.random() < 0.5 else None
            area = 0
            for _ in range(round(60 * max(self.area_scale, 0.5))):
                if area >= target:
                    break
                new = draw.random() < appear
                added = place((not new, new), centre)
                if area + added > cap:
                    buildings.pop()
                    continue
                area += added
        return buildings

    def _paint(self, alpha: np.ndarray, colour: np.ndarray, shading: np.ndarray) -> None:
        """Blend ``colour × shading`` over the image with opacity ``alpha``, within its extent."""
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        if rows.size == 0:
            return
        window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        target = self.image[:, window[0], window[1]]
        paint = colour * shading[window]
        paint -= target
        paint *= alpha[window]
        target += paint

    # -- dates -----------------------------------------------------------------------------

    def render(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        draw, h, w = self.draw, self.h, self.w
        mask = np.zeros((h, w), np.uint8)
        for b in self.buildings:
            if b.present[0] != b.present[1]:
                mask[b.rows, b.cols] = 1
        tint = _colour(_TINTS[draw.index(len(_TINTS))] * draw.uniform(0.3, 1.0))
        # t2's noise reuses t1's random bytes, offset by a fraction of a row plus a few rows.
        lag = draw.index(w) + w * (1 + draw.index(7))
        noise = _random_bytes(self.rng, (3 * h * w + lag,))
        noises = (noise[: 3 * h * w], noise[lag:])
        dates = []
        for date in (0, 1):
            image = self._date(date, tint if date else None)
            if date:
                _subpixel_shift(image, draw.uniform(-0.8, 0.8), draw.uniform(-0.8, 0.8))
            amplitude = draw.uniform(0.005, 0.02) * 255.0 * math.sqrt(3.0) / 128.0
            image += noises[date].reshape(3, h, w) * _F32(amplitude)
            np.clip(image, 0.0, 255.0, out=image)
            dates.append(image.transpose(1, 2, 0).astype(np.uint8))
        return dates[0], dates[1], mask

    def _date(self, date: int, tint: np.ndarray | None) -> np.ndarray:
        """One date before resampling and sensor noise, scaled to 0–255 (+0.5 to round)."""
        draw = self.draw
        present = [b for b in self.buildings if b.present[date]]
        scale = draw.uniform(0.8, 1.2)
        cast = np.zeros((self.h, self.w), bool)
        for b in present:
            _cast_shadow(cast, b, self.sun, b.shadow * scale)
        level, off = draw.uniform(0.85, 1.15), draw.uniform(-0.05, 0.05)
        gain = _colour([level * draw.uniform(0.94, 1.06) * 255.0 for _ in range(3)])
        offset = _colour([(off + draw.uniform(-0.02, 0.02)) * 255.0 + 0.5 for _ in range(3)])
        factor = np.maximum(self.tree_shadow, cast) * (gain * (self.shade - 1.0))
        factor += gain
        if tint is not None:
            tint_factor = self.veg * tint
            tint_factor += 1.0
            factor *= tint_factor
        image = self.image * factor
        for b in present:
            np.multiply(b.patch, gain, out=image[:, b.rows, b.cols])
        image += offset
        return image


# ---------------------------------------------------------------------------------------------
# Drawing helpers
# ---------------------------------------------------------------------------------------------


def _roof(
    draw: _Draws, bh: int, bw: int, sun: tuple[float, float], grain: np.ndarray
) -> np.ndarray:
    """Planar roof colours of a bh × bw building, lit from the side opposite ``sun``."""
    colour = draw.colour(_ROOF, 0.05, _ROOF_CDF) * _F32(draw.uniform(0.85, 1.12))
    kind = draw.choice((0.35, 0.75, 1.0))
    base, ny, nx = _roof_template(bh, bw, kind)
    strength = draw.uniform(0.2, 0.4)
    light = ny * _F32(-sun[0] * strength)
    light += nx * _F32(-sun[1] * strength)
    light += base
    if kind == _FLAT:
        for _ in range(draw.index(4)):
            uh, uw = 2 + draw.index(2), 2 + draw.index(2)
            if bh > uh + 4 and bw > uw + 4:
                top, left = 2 + draw.index(bh - uh - 3), 2 + draw.index(bw - uw - 3)
                light[top : top + uh, left : left + uw] = 1.2
    light *= 0.93 + 0.14 * grain
    return colour * light


_GABLE, _HIP, _FLAT = 0, 1, 2


@functools.lru_cache(maxsize=4096)
def _roof_template(bh: int, bw: int, kind: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base brightness and facet-normal components (y, x) of a roof; light = base + n·sun."""
    yy = (np.arange(bh, dtype=_F32) + 0.5) * _F32(2.0 / bh) - 1.0
    xx = (np.arange(bw, dtype=_F32) + 0.5) * _F32(2.0 / bw) - 1.0
    ay, ax = np.abs(yy)[:, None] * bh, np.abs(xx)[None, :] * bw
    base = np.ones((bh, bw), _F32)
    if kind == _FLAT:  # soft gradient, darker parapet
        ny = np.broadcast_to(yy[:, None] * _F32(0.25), (bh, bw))
        nx = np.broadcast_to(xx[None, :] * _F32(0.25), (bh, bw))
        base[[0, -1], :] = base[:, [0, -1]] = 0.85
    else:  # facets face their nearest eave (hip) or the long sides (gable)
        across_y = (bh - ay) <= (bw - ax) if kind == _HIP else np.full((bh, bw), bw >= bh)
        ny = np.where(across_y, np.sign(yy)[:, None], 0).astype(_F32)
        nx = np.where(across_y, 0, np.sign(xx)[None, :]).astype(_F32)
        if kind == _GABLE:
            base[np.where(across_y, ay, ax) < 1.5] = 1.12
    base[[0, -1], :] *= 0.9
    base[:, [0, -1]] *= 0.9
    arrays = (base, np.ascontiguousarray(ny), np.ascontiguousarray(nx))
    for array in arrays:
        array.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=64)
def _dome(radius: float) -> np.ndarray:
    """A tree crown's height: 1 at the centre, 0 at ``radius``, on a (2r+1)² square."""
    r = math.ceil(radius)
    d = np.arange(-r, r + 1, dtype=_F32)
    dome = 1.0 - (d[:, None] ** 2 + d[None, :] ** 2) * _F32(1.0 / radius**2)
    dome.flags.writeable = False
    return dome


def _cast_shadow(mask: np.ndarray, b: _Building, sun: tuple[float, float], length: float) -> None:
    """Mark the footprint swept along the sun direction (a parallelogram-shaped shadow)."""
    h, w = mask.shape
    bh, bw = b.patch.shape[1:]
    steps = math.ceil(length / 1.5) + 1
    for k in range(steps):
        t = length * k / (steps - 1)
        top, left = b.top + round(t * sun[0]), b.left + round(t * sun[1])
        mask[max(top, 0) : min(top + bh, h), max(left, 0) : min(left + bw, w)] = True


def _subpixel_shift(image: np.ndarray, dy: float, dx: float) -> None:
    """Translate a planar image in place by (dy, dx), each in (-1, 1): bilinear, edges kept."""
    for axis, shift in ((1, dy), (2, dx)):
        step = np.diff(image, axis=axis)  # step[i] = image[i + 1] - image[i]
        later = [slice(None)] * 3
        earlier = [slice(None)] * 3
        later[axis], earlier[axis] = slice(1, None), slice(None, -1)
        if shift > 0:  # out[i] = image[i] - shift · (image[i] - image[i - 1])
            image[tuple(later)] -= _F32(shift) * step
        else:  # out[i] = image[i] + |shift| · (image[i + 1] - image[i])
            image[tuple(earlier)] += _F32(-shift) * step


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = a[y - dy, x - dx]``, zero where that falls outside."""
    h, w = a.shape
    out = np.zeros_like(a)
    if abs(dy) < h and abs(dx) < w:
        out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = a[
            max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
    return out


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2·radius+1)² square, via shifted ORs."""
    out = mask.copy()
    for d in range(1, radius + 1):
        out[d:] |= mask[:-d]
        out[:-d] |= mask[d:]
    rows = out.copy()
    for d in range(1, radius + 1):
        out[:, d:] |= rows[:, :-d]
        out[:, :-d] |= rows[:, d:]
    return out


def _colour(values: np.ndarray) -> np.ndarray:
    """Per-channel values shaped (3, 1, 1) to broadcast over a planar image."""
    return np.asarray(values, _F32).reshape(3, 1, 1)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - _F32(edge0)) * _F32(1.0 / (edge1 - edge0)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _random_bytes(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform random int8 values (the cheapest bulk randomness numpy offers)."""
    return np.frombuffer(rng.bytes(math.prod(shape)), np.int8).reshape(shape)


# ---------------------------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def _lerp_table(n_out: int, cell: int, smooth: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid indices (lower, upper) and weights to interpolate a grid with ``cell`` spacing."""
    lower = np.arange(n_out) // cell
    upper = lower + 1
    frac = (np.arange(n_out) % cell).astype(_F32) * _F32(1.0 / cell)
    if smooth:
        frac = frac * frac * (3.0 - 2.0 * frac)
    for array in (lower, upper, frac):
        array.flags.writeable = False
    return lower, upper, frac


def _upsample(grid: np.ndarray, h: int, w: int, cell: int, smooth: bool) -> np.ndarray:
    """Interpolate grid points spaced ``cell`` pixels apart to an h × w field."""
    y0, y1, fy = _lerp_table(h, cell, smooth)
    x0, x1, fx = _lerp_table(w, cell, smooth)
    rows = grid[y0]
    rows += (grid[y1] - rows) * fy[:, None]
    out = rows[:, x0]
    out += (rows[:, x1] - out) * fx
    return out


def _fbm_grid(
    rng: np.random.Generator, h: int, w: int, cells: tuple[int, ...], gains: tuple[float, ...]
) -> np.ndarray:
    """Multi-octave value noise in [0, 1] for an h × w image, sampled every ``_NOISE_BASE`` px."""
    hb, wb = (h - 1) // _NOISE_BASE + 2, (w - 1) // _NOISE_BASE + 2
    total = np.zeros((hb, wb), _F32)
    for cell, gain in zip(cells, gains, strict=True):
        step = cell // _NOISE_BASE
        if step <= 1:
            total += gain * rng.random((hb, wb), dtype=_F32)
            continue
        grid = rng.random(((hb - 1) // step + 2, (wb - 1) // step + 2), dtype=_F32)
        total += gain * _upsample(grid, hb, wb, step, smooth=True)
    low, high = total.min(), total.max()
    total -= low
    total *= _F32(1.0) / max(high - low, _F32(1e-6))
    return total


# ---------------------------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------------------------


def _parse_size(size: Size) -> tuple[int, int]:
    if isinstance(size, int | np.integer) and not isinstance(size, bool):
        h = w = int(size)
    elif (
        isinstance(size, tuple | list)
        and len(size) == 2
        and all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in size)
    ):
        h, w = int(size[0]), int(size[1])
    else:
        raise ConfigError(f"synthetic size must be an int or (H, W) pair of ints, got {size!r}")
    if min(h, w) < _MIN_SIDE:
        raise ConfigError(f"synthetic size must be at least {_MIN_SIDE} px per side, got {size!r}")
    return h, w


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).contiguous().float().div_(255.0)
