"""Seeded procedural bi-temporal aerial-like scenes with building-change labels.

Each scene has textured ground (soil and grass), roads, trees, roofed buildings and their cast
shadows. Between the two dates some buildings appear or disappear (label 1 on their footprint);
everything else differs only by nuisances that are not change: a global per-channel gain and
offset, a seasonal vegetation tint, a sub-pixel shift of the whole t2 image, different shadow
lengths and sensor noise. Some scenes (about 15 %) have no change; in the others changed
footprints cover roughly 2–12 % of the pixels. Sizes in pixels assume about 0.5 m per pixel
(buildings 8–40 px a side, whatever the image size).

Everything is drawn from one ``numpy.random.Generator(PCG64)`` seeded by ``(seed, index)`` (plus
a fixed tree-crown texture built once per process from a constant seed), and pixel work is
elementwise numpy arithmetic (no BLAS, no transcendental functions), so a ``(seed, index,
size)`` triple gives the same arrays bit for bit, in any process. About 80 pairs of 256×256 per
second on one core (``benchmarks/synthetic_speed.py``).
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
_GABLE, _HIP, _FLAT = 0, 1, 2  # roof kinds
_ROOF_KIND_CDF = (0.35, 0.75, 1.0)
_MARKING = np.array([[0.92], [0.91], [0.85]], _F32)
# Seasonal multiplicative tints of vegetation (dry/autumn, lush/spring, pale/winter).
_TINTS = np.array([[0.30, 0.10, -0.12], [-0.15, 0.08, -0.10], [0.15, 0.05, 0.10]], _F32)


@dataclass(frozen=True)
class _Building:
    """One axis-aligned block of a building (an L-shaped house is two blocks)."""

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


@dataclass(frozen=True)
class _Road:
    """A straight road through (cy, cx) with unit normal (ny, nx); ``edge`` is its half width
    including any sidewalk. Across coordinate u = (x - cx)·nx + (y - cy)·ny, along v."""

    cy: float
    cx: float
    ny: float
    nx: float
    edge: float

    def point(self, v: float, u: float) -> tuple[float, float]:
        return self.cy + v * self.nx + u * self.ny, self.cx - v * self.ny + u * self.nx


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

    Items are dicts with ``t1`` and ``t2`` (float32 3×H×W in [0, 1], 8-bit levels), ``mask``
    (int64 H×W, 1 = change), ``name`` (``synthetic_{seed}_{i:05d}``) and ``levels`` (255 for
    both dates, as for the files ``write_synthetic_dataset`` writes).
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
            "levels": torch.tensor([255.0, 255.0]),
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

    def colour(
        self, palette: np.ndarray, jitter: float, cdf: tuple[float, ...] | None = None
    ) -> np.ndarray:
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
        self.streets: list[_Road] = []
        self.occupied = self._roads()
        self.tree_shadow = self._trees()
        self.buildings = self._buildings()

    # -- layers ----------------------------------------------------------------------------

    def _fbm(self, cells: tuple[int, ...], gains: tuple[float, ...]) -> np.ndarray:
        """Value noise in [0, 1] on the coarse grid; ``_full`` brings it to pixel resolution."""
        return _fbm_grid(self.rng, self.h, self.w, cells, gains)

    def _full(self, grid: np.ndarray, smooth: bool = False) -> np.ndarray:
        return _upsample(grid, self.h, self.w, _NOISE_BASE, smooth)

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
            road, bend, width = self._road_geometry()
            dy, dx = self.ys - road.cy, self.xs - road.cx
            u = dx * road.nx + dy * road.ny
            v = dy * road.nx - dx * road.ny
            if bend:
                u += bend * v * v
            dist = np.abs(u)
            paving = draw.colour(_PAVEMENT, 0.04)
            if road.edge > width / 2 + 1:  # kerb / sidewalk band
                walk = np.clip(road.edge - dist, 0.0, 1.0)
                self._paint(walk, draw.colour(_PAVEMENT[2:], 0.03), shading)
                occupied |= walk > 0
            alpha = np.clip(width / 2 + 0.5 - dist, 0.0, 1.0)
            self._paint(alpha, paving, shading)
            occupied |= alpha > 0
            if width >= 10 and draw.random() < 0.7:
                period = draw.uniform(10.0, 18.0)
                centre = np.nonzero(dist < 0.8)
                dashes = v[centre] % period < period * 0.5
                self.image[:, centre[0][dashes], centre[1][dashes]] = _MARKING
            if not bend and min(abs(road.nx), abs(road.ny)) < 0.1:
                self.streets.append(road)
        return _dilate(occupied, 2)

    def _road_geometry(self) -> tuple[_Road, float, float]:
        """A road mostly along an image axis, its bend (0 for straight) and its width."""
        draw = self.draw
        axis = (0.0, 0.5 * math.pi, draw.uniform(0.0, math.pi))[draw.choice((0.4, 0.8, 1.0))]
        angle = axis + draw.normal(0.02)
        width = draw.uniform(6.0, 16.0)
        edge = width / 2 + (2.5 if draw.random() < 0.5 else 0.5)
        cy, cx = draw.uniform(0.1, 0.9) * self.h, draw.uniform(0.1, 0.9) * self.w
        road = _Road(cy, cx, math.sin(angle), math.cos(angle), edge)
        bend = 0.0
        if draw.random() < 0.35:
            bend = draw.uniform(0.4, 1.5) * (1 if draw.random() < 0.5 else -1) / max(self.h, self.w)
        return road, bend, width

    def _trees(self) -> np.ndarray:
        """Paint woodland and scattered trees; return their soft cast-shadow map."""
        draw, h, w = self.draw, self.h, self.w
        # Where trees grow: woodland patches plus scattered small spots (single trees, clumps).
        cover = draw.uniform(0.0, 0.4)
        zone = _smoothstep(1.0 - cover, 1.1 - cover, self._fbm((96, 48, 24), (1.0, 0.5, 0.25)))
        rare = draw.uniform(0.66, 0.85)  # the higher, the fewer scattered clumps
        np.maximum(zone, _smoothstep(rare, rare + 0.12, self._fbm((12, 8), (1.0, 0.5))), out=zone)
        # Packed crowns fill the zone; along its rim only the taller crowns remain.
        crowns = _crop_tile(_crown_tile(), h, w, draw)
        height = self._full(zone)
        height += crowns
        height -= 1.0
        canopy = np.clip(height * 8.0, 0.0, 1.0)
        height = crowns * canopy
        self._scatter_trees(height, canopy)
        free = np.where(self.occupied, _F32(0.0), _F32(1.0))
        height *= free
        canopy *= free
        sy, sx = self.sun
        shading = height - _shift(height, round(-2 * sy), round(-2 * sx))  # lit side
        shading *= 1.2
        shading += 0.6 * height + 0.5
        shading += 0.15 * self.grain
        self._paint(canopy, draw.colour(_TREE, 0.08), shading)
        self.veg *= free
        np.maximum(self.veg, canopy, out=self.veg)
        length = draw.uniform(2.0, 5.0)
        shadow = _shift(canopy, round(length * sy), round(length * sx))
        shadow *= 1.0 - canopy
        return shadow

    def _scatter_trees(self, height: np.ndarray, canopy: np.ndarray) -> None:
        """Add free-standing round crowns (off the roads) to the height and canopy maps."""
        draw, h, w = self.draw, self.h, self.w
        for _ in range(round(draw.uniform(3, 25) * self.area_scale)):
            cy, cx = draw.index(h), draw.index(w)
            dome = _dome(round(draw.uniform(2.5, 6.5) * 2) / 2)
            if self.occupied[cy, cx]:
                continue
            r = dome.shape[0] // 2
            top, left = max(cy - r, 0), max(cx - r, 0)
            bottom, right = min(cy + r + 1, h), min(cx + r + 1, w)
            part = dome[top - cy + r : bottom - cy + r, left - cx + r : right - cx + r]
            window = (slice(top, bottom), slice(left, right))
            np.maximum(height[window], part, out=height[window])
            np.maximum(canopy[window], np.clip(part * 6.0, 0.0, 1.0), out=canopy[window])

    def _buildings(self) -> list[_Building]:
        """Unchanged buildings, then changed ones until the scene's change target is met."""
        draw, h, w = self.draw, self.h, self.w
        self.taken = self.occupied.copy()
        self.street_share = draw.uniform(0.3, 0.9) if self.streets else 0.0
        buildings: list[_Building] = []
        for _ in range(round(draw.uniform(6, 40) * self.area_scale)):
            self._place(buildings, (True, True), None, h * w)
        if draw.random() < _CHANGE_PROBABILITY:
            target = draw.uniform(0.02, 0.12) * h * w
            room = 0.15 * h * w
            appear = draw.uniform(0.3, 0.9)
            centre = (draw.random() * h, draw.random() * w) if draw.random() < 0.5 else None
            for _ in range(round(60 * max(self.area_scale, 0.5))):
                if room <= 0.15 * h * w - target:
                    break
                new = draw.random() < appear
                room -= self._place(buildings, (not new, new), centre, room)
        return buildings

    def _place(
        self,
        buildings: list[_Building],
        present: tuple[bool, bool],
        centre: tuple[float, float] | None,
        room: float,
    ) -> int:
        """Try to add one building (sometimes with a wing) of at most ``room`` pixels.

        Returns its footprint area, 0 where the chosen spot is taken.
        """
        draw, h, w = self.draw, self.h, self.w
        hi = min(40, min(h, w) // 3)
        lo = min(8, hi)
        side = draw.uniform(lo, hi)
        short = max(round(side / draw.uniform(1.0, 2.0)), lo)
        bh, bw = (round(side), short) if draw.random() < 0.5 else (short, round(side))
        street = None
        if draw.random() < self.street_share:
            street = self._street_spot(bh, bw)
        if street is not None:
            top, left = street[0]
        elif centre is None:
            top, left = draw.index(h - bh + 1), draw.index(w - bw + 1)
        else:
            top = int(min(max(centre[0] + draw.normal(35) - bh / 2, 0), h - bh))
            left = int(min(max(centre[1] + draw.normal(35) - bw / 2, 0), w - bw))
        parts = [(top, left, bh, bw)]
        if not self._is_free(*parts[0]):
            return 0
        if min(bh, bw) >= 14 and draw.random() < 0.3:
            wing = self._wing(*parts[0])
            if self._is_free(*wing):
                parts.append(wing)
        area = sum(ph * pw for _, _, ph, pw in parts)
        if area > room:
            return 0
        style = _roof_style(draw)
        shadow = draw.uniform(2.5, 8.0)
        for pt, pl, ph, pw in parts:
            self.taken[pt : pt + ph, pl : pl + pw] = True
            grain = self.grain[pt : pt + ph, pl : pl + pw]
            patch = _roof(draw, style, self.sun, grain)
            buildings.append(_Building(pt, pl, patch, shadow, present))
        if street is not None and draw.random() < 0.8:
            self._driveway(top, left, bh, bw, *street[1])
        return area

    def _is_free(self, top: int, left: int, bh: int, bw: int, gap: int = 3) -> bool:
        inside = top >= 0 and left >= 0 and top + bh <= self.h and left + bw <= self.w
        window = self.taken[
            max(top - gap, 0) : top + bh + gap, max(left - gap, 0) : left + bw + gap
        ]
        return inside and not window.any()

    def _wing(self, top: int, left: int, bh: int, bw: int) -> tuple[int, int, int, int]:
        """A smaller block flush with one corner of a bh × bw footprint (an L-shaped house)."""
        draw = self.draw
        wh = max(round(bh * draw.uniform(0.4, 0.8)), 6)
        ww = max(round(bw * draw.uniform(0.4, 0.8)), 6)
        if draw.random() < 0.5:  # above or below, flush left or right
            wt = top - wh if draw.random() < 0.5 else top + bh
            wl = left if draw.random() < 0.5 else left + bw - ww
        else:  # left or right, flush top or bottom
            wl = left - ww if draw.random() < 0.5 else left + bw
            wt = top if draw.random() < 0.5 else top + bh - wh
        return wt, wl, wh, ww

    def _street_spot(
        self, bh: int, bw: int
    ) -> tuple[tuple[int, int], tuple[_Road, float, float]] | None:
        """Top-left of a bh × bw footprint set back from a random street, or None off-image.

        Also returns the street, the side (±1) and the setback, for the driveway.
        """
        draw = self.draw
        road = self.streets[draw.index(len(self.streets))]
        if abs(road.nx) >= abs(road.ny):  # normal along x: the street runs along y
            v = (draw.uniform(0, self.h) - road.cy) / road.nx
        else:
            v = -(draw.uniform(0, self.w) - road.cx) / road.ny
        side = 1.0 if draw.random() < 0.5 else -1.0
        setback = draw.uniform(5.5, 12.0)
        reach = abs(road.ny) * bh / 2 + abs(road.nx) * bw / 2
        y, x = road.point(v, side * (road.edge + setback + reach))
        top, left = round(y - bh / 2), round(x - bw / 2)
        if not (0 <= top <= self.h - bh and 0 <= left <= self.w - bw):
            return None
        return (top, left), (road, side, setback)

    def _driveway(
        self, top: int, left: int, bh: int, bw: int, road: _Road, side: float, setback: float
    ) -> None:
        """Pave a strip from the building's street-facing side to the street."""
        draw = self.draw
        width = 3 + draw.index(3)
        length = math.ceil(setback) + 1
        if abs(road.nx) >= abs(road.ny):  # strip along x
            start = draw.index(bh - width + 1) + top
            rows = slice(start, start + width)
            cols = (
                slice(left - length, left)
                if side * road.nx > 0
                else slice(left + bw, left + bw + length)
            )
        else:
            start = draw.index(bw - width + 1) + left
            cols = slice(start, start + width)
            rows = (
                slice(top - length, top)
                if side * road.ny > 0
                else slice(top + bh, top + bh + length)
            )
        rows = slice(max(rows.start, 0), min(rows.stop, self.h))
        cols = slice(max(cols.start, 0), min(cols.stop, self.w))
        colour = draw.colour(_PAVEMENT[2:], 0.04)
        self.image[:, rows, cols] = colour * (0.95 + 0.1 * self.grain[rows, cols])
        self.veg[rows, cols] = 0.0
        self.taken[rows, cols] = True

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
        # Uniform sensor noise; every channel and date reads the same buffer at its own offset.
        lags = [draw.index(w) + w * (1 + draw.index(7)) for _ in range(6)]
        noise = _random_bytes(self.rng, (h * w + max(lags),))
        noise = noise * _F32(draw.uniform(0.005, 0.02) * 255.0 * math.sqrt(3.0) / 128.0)
        dates = []
        for date in (0, 1):
            image = self._date(date, tint if date else None)
            if date:
                _subpixel_shift(image, draw.uniform(-0.8, 0.8), draw.uniform(-0.8, 0.8))
            for channel, lag in enumerate(lags[3 * date : 3 * date + 3]):
                image[channel] += noise[lag : lag + h * w].reshape(h, w)
            np.clip(image, 0.0, 255.0, out=image)
            dates.append(_interleave(image.astype(np.uint8)))
        return dates[0], dates[1], mask

    def _date(self, date: int, tint: np.ndarray | None) -> np.ndarray:
        """One date before resampling and sensor noise, scaled to 0–255 (+0.5 to round)."""
        draw = self.draw
        present = [b for b in self.buildings if b.present[date]]
        scale = draw.uniform(0.8, 1.2)
        lengths = np.zeros((self.h, self.w), _F32)
        for b in present:
            lengths[b.rows, b.cols] = b.shadow * scale
        cast = _cast_shadows(lengths, self.sun)
        level, off = draw.uniform(0.85, 1.15), draw.uniform(-0.05, 0.05)
        gain = _colour([level * draw.uniform(0.94, 1.06) * 255.0 for _ in range(3)])
        offset = _colour([(off + draw.uniform(-0.02, 0.02)) * 255.0 + 0.5 for _ in range(3)])
        factor = np.maximum(self.tree_shadow, cast.view(np.uint8), dtype=_F32)
        factor = factor * (gain * (self.shade - 1.0))
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


def _roof_style(draw: _Draws) -> tuple[np.ndarray, int, float]:
    """Colour, kind (gable, hip or flat) and facet contrast shared by a building's parts."""
    colour = draw.colour(_ROOF, 0.05, _ROOF_CDF) * _F32(draw.uniform(0.85, 1.12))
    return colour, draw.choice(_ROOF_KIND_CDF), draw.uniform(0.2, 0.4)


def _roof(
    draw: _Draws,
    style: tuple[np.ndarray, int, float],
    sun: tuple[float, float],
    grain: np.ndarray,
) -> np.ndarray:
    """Planar roof colours over a footprint the shape of ``grain``, lit opposite ``sun``.

    Pitched roofs get one brightness per facet from the facet's normal and the sun; a gable's
    ridge runs along the long side, a hip roof's facets face their nearest eave.
    """
    colour, kind, strength = style
    bh, bw = grain.shape
    (ty, sy, my), (tx, sx, mx) = _axis(bh), _axis(bw)
    ly, lx = -sun[0] * strength, -sun[1] * strength  # towards the sun
    if kind == _FLAT:  # gentle gradient, a few brighter rooftop units, darker parapet
        light = (1.0 + 0.25 * ly * ty)[:, None] + (0.25 * lx * tx)[None, :]
        for _ in range(draw.index(4)):
            uh, uw = 2 + draw.index(2), 2 + draw.index(2)
            if bh > uh + 4 and bw > uw + 4:
                top, left = 2 + draw.index(bh - uh - 3), 2 + draw.index(bw - uw - 3)
                light[top : top + uh, left : left + uw] = 1.2
        rim = 0.77
    else:
        facing_y, facing_x = (1.0 + ly * sy)[:, None], (1.0 + lx * sx)[None, :]
        if kind == _HIP:
            across_y = (bh / 2 - my)[:, None] <= (bw / 2 - mx)[None, :]
            light = np.where(across_y, facing_y, facing_x)
        elif bw >= bh:  # gable, ridge along x
            light = np.where((my < 0.75)[:, None], facing_y * _F32(1.12), facing_y)
        else:
            light = np.where((mx < 0.75)[None, :], facing_x * _F32(1.12), facing_x)
        rim = 0.9
    light = light * (0.93 + 0.14 * grain)
    for edge in (light[0], light[-1], light[:, 0], light[:, -1]):
        edge *= rim
    return colour * light


@functools.lru_cache(maxsize=256)
def _axis(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Across n pixels: centre coordinates in [-1, 1], their sign and pixels to the middle."""
    t = (np.arange(n, dtype=_F32) + 0.5) * _F32(2.0 / n) - 1.0
    arrays = (t, np.sign(t), np.abs(t) * _F32(n / 2))
    for array in arrays:
        array.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=64)
def _dome(radius: float) -> np.ndarray:
    """A tree crown's height, a hemisphere of ``radius`` on a (2r+1)² square (0 outside)."""
    r = math.ceil(radius)
    d = np.arange(-r, r + 1, dtype=_F32)
    dome = np.sqrt(np.clip(1.0 - (d[:, None] ** 2 + d[None, :] ** 2) / _F32(radius**2), 0.0, 1.0))
    dome.flags.writeable = False
    return dome


_TILE = 256
_TILE_SEED = 20240611  # the crown tile is a fixed texture, identical in every process


@functools.lru_cache(maxsize=1)
def _crown_tile() -> np.ndarray:
    """A seamless _TILE² texture of packed tree crowns (heights in [0, 1], 0 in the gaps)."""
    rng = np.random.Generator(np.random.PCG64(_TILE_SEED))
    tile = np.zeros((_TILE, _TILE), _F32)
    count = 1500
    centres = rng.random((count, 2)) * _TILE
    radii = 2.5 + 3.5 * rng.random(count)
    tops = 0.6 + 0.4 * rng.random(count)
    for (y, x), radius, top in zip(centres, radii, tops, strict=True):
        dome = _dome(round(radius * 2) / 2) * _F32(top)
        r = dome.shape[0] // 2
        rows = np.arange(int(y) - r, int(y) + r + 1) % _TILE
        cols = np.arange(int(x) - r, int(x) + r + 1) % _TILE
        window = np.ix_(rows, cols)
        tile[window] = np.maximum(tile[window], dome)
    tile.flags.writeable = False
    return tile


def _crop_tile(tile: np.ndarray, h: int, w: int, draw: _Draws) -> np.ndarray:
    """An h × w window of the periodic ``tile`` at a random offset, flip and transposition."""
    if draw.random() < 0.5:
        tile = tile.T
    tile = tile[:: 1 if draw.random() < 0.5 else -1, :: 1 if draw.random() < 0.5 else -1]
    size = tile.shape[0]
    tile = np.roll(tile, (-draw.index(size), -draw.index(size)), axis=(0, 1))
    if h <= size and w <= size:
        return tile[:h, :w]
    return np.tile(tile, (-(-h // size), -(-w // size)))[:h, :w]


def _cast_shadows(lengths: np.ndarray, sun: tuple[float, float]) -> np.ndarray:
    """Shadow mask of footprints (``lengths`` > 0) each swept ``lengths`` px along ``sun``."""
    h, w = lengths.shape
    cast = lengths > 0
    distance, longest = 1.0, float(lengths.max())
    while distance <= longest:
        dy, dx = round(distance * sun[0]), round(distance * sun[1])
        if abs(dy) >= h or abs(dx) >= w:
            break
        target = cast[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)]
        target |= lengths[max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)] >= distance
        distance += 1.4  # < 1.5 px, so consecutive copies leave no gaps
    return cast


def _subpixel_shift(image: np.ndarray, dy: float, dx: float) -> None:
    """Translate a planar image in place by (dy, dx), each in (-1, 1): bilinear, edges kept.

    Works on the flat buffer (a row is ``w`` elements on, a column 1), which is much faster
    than strided 3-D views, then restores the edge line that the flat view mixes across.
    """
    w = image.shape[2]
    flat = image.reshape(-1)
    for shift, stride, axis in ((dy, w, 1), (dx, 1, 2)):
        edge = [slice(None)] * 3
        edge[axis] = 0 if shift > 0 else -1
        kept = image[tuple(edge)].copy()
        step = flat[stride:] - flat[:-stride]  # step[i] = flat[i + stride] - flat[i]
        step *= _F32(abs(shift))
        if shift > 0:  # out[i] = in[i] - shift · (in[i] - in[i - 1])
            flat[stride:] -= step
        else:  # out[i] = in[i] + |shift| · (in[i + 1] - in[i])
            flat[:-stride] += step
        image[tuple(edge)] = kept


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
    # Columns first on the few grid rows, then whole-row gathers (plain copies) at full size.
    cols = grid[:, x0]
    cols += (grid[:, x1] - cols) * fx
    out = cols[y1]
    out -= cols[y0]
    out *= fy[:, None]
    out += cols[y0]
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


def _interleave(planar: np.ndarray) -> np.ndarray:
    """3 × H × W to a C-contiguous H × W × 3 copy (channel by channel: the fastest way)."""
    out = np.empty((*planar.shape[1:], 3), planar.dtype)
    for channel in range(3):
        out[:, :, channel] = planar[channel]
    return out


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).contiguous().float().div_(255.0)
