"""Textures of the synthetic scenes: multi-octave value noise, tree-crown tiles and lit roofs."""

from __future__ import annotations

import functools
import math

import numpy as np

from hicd.data.synthetic.draws import Draws
from hicd.data.synthetic.raster import F32

NOISE_BASE = 4  # noise octaves are summed on a grid this many pixels apart


ROOF = np.array(
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
    F32,
)


ROOF_CDF = (0.22, 0.44, 0.58, 0.70, 0.80, 0.88, 0.93, 1.0)  # cumulative shares of ROOF


GABLE, HIP, FLAT = 0, 1, 2  # roof kinds


ROOF_KIND_CDF = (0.35, 0.75, 1.0)


def roof_style(draw: Draws) -> tuple[np.ndarray, int, float]:
    """Colour, kind (gable, hip or flat) and facet contrast shared by a building's parts."""
    colour = draw.colour(ROOF, 0.05, ROOF_CDF) * F32(draw.uniform(0.85, 1.12))
    return colour, draw.choice(ROOF_KIND_CDF), draw.uniform(0.2, 0.4)


def roof_colours(
    draw: Draws,
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
    (ty, sy, my), (tx, sx, mx) = axis_coords(bh), axis_coords(bw)
    ly, lx = -sun[0] * strength, -sun[1] * strength  # towards the sun
    if kind == FLAT:  # gentle gradient, a few brighter rooftop units, darker parapet
        light = (1.0 + 0.25 * ly * ty)[:, None] + (0.25 * lx * tx)[None, :]
        for _ in range(draw.index(4)):
            uh, uw = 2 + draw.index(2), 2 + draw.index(2)
            if bh > uh + 4 and bw > uw + 4:
                top, left = 2 + draw.index(bh - uh - 3), 2 + draw.index(bw - uw - 3)
                light[top : top + uh, left : left + uw] = 1.2
        rim = 0.77
    else:
        facing_y, facing_x = (1.0 + ly * sy)[:, None], (1.0 + lx * sx)[None, :]
        if kind == HIP:
            across_y = (bh / 2 - my)[:, None] <= (bw / 2 - mx)[None, :]
            light = np.where(across_y, facing_y, facing_x)
        elif bw >= bh:  # gable, ridge along x
            light = np.where((my < 0.75)[:, None], facing_y * F32(1.12), facing_y)
        else:
            light = np.where((mx < 0.75)[None, :], facing_x * F32(1.12), facing_x)
        rim = 0.9
    light = light * (0.93 + 0.14 * grain)
    for edge in (light[0], light[-1], light[:, 0], light[:, -1]):
        edge *= rim
    return colour * light


@functools.lru_cache(maxsize=256)
def axis_coords(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Across n pixels: centre coordinates in [-1, 1], their sign and pixels to the middle."""
    t = (np.arange(n, dtype=F32) + 0.5) * F32(2.0 / n) - 1.0
    arrays = (t, np.sign(t), np.abs(t) * F32(n / 2))
    for array in arrays:
        array.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=64)
def crown_dome(radius: float) -> np.ndarray:
    """A tree crown's height, a hemisphere of ``radius`` on a (2r+1)² square (0 outside)."""
    r = math.ceil(radius)
    d = np.arange(-r, r + 1, dtype=F32)
    dome = np.sqrt(np.clip(1.0 - (d[:, None] ** 2 + d[None, :] ** 2) / F32(radius**2), 0.0, 1.0))
    dome.flags.writeable = False
    return dome


TILE = 256


TILE_SEED = 20240611  # the crown tile is a fixed texture, identical in every process


@functools.lru_cache(maxsize=1)
def crown_tile() -> np.ndarray:
    """A seamless _TILE² texture of packed tree crowns (heights in [0, 1], 0 in the gaps)."""
    rng = np.random.Generator(np.random.PCG64(TILE_SEED))
    tile = np.zeros((TILE, TILE), F32)
    count = 1500
    centres = rng.random((count, 2)) * TILE
    radii = 2.5 + 3.5 * rng.random(count)
    tops = 0.6 + 0.4 * rng.random(count)
    for (y, x), radius, top in zip(centres, radii, tops, strict=True):
        dome = crown_dome(round(radius * 2) / 2) * F32(top)
        r = dome.shape[0] // 2
        rows = np.arange(int(y) - r, int(y) + r + 1) % TILE
        cols = np.arange(int(x) - r, int(x) + r + 1) % TILE
        window = np.ix_(rows, cols)
        tile[window] = np.maximum(tile[window], dome)
    tile.flags.writeable = False
    return tile


def crop_tile(tile: np.ndarray, h: int, w: int, draw: Draws) -> np.ndarray:
    """An h × w window of the periodic ``tile`` at a random offset, flip and transposition."""
    if draw.random() < 0.5:
        tile = tile.T
    tile = tile[:: 1 if draw.random() < 0.5 else -1, :: 1 if draw.random() < 0.5 else -1]
    size = tile.shape[0]
    tile = np.roll(tile, (-draw.index(size), -draw.index(size)), axis=(0, 1))
    if h <= size and w <= size:
        return tile[:h, :w]
    return np.tile(tile, (-(-h // size), -(-w // size)))[:h, :w]


@functools.lru_cache(maxsize=128)
def lerp_table(n_out: int, cell: int, smooth: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid indices (lower, upper) and weights to interpolate a grid with ``cell`` spacing."""
    lower = np.arange(n_out) // cell
    upper = lower + 1
    frac = (np.arange(n_out) % cell).astype(F32) * F32(1.0 / cell)
    if smooth:
        frac = frac * frac * (3.0 - 2.0 * frac)
    for array in (lower, upper, frac):
        array.flags.writeable = False
    return lower, upper, frac


def upsample(grid: np.ndarray, h: int, w: int, cell: int, smooth: bool) -> np.ndarray:
    """Interpolate grid points spaced ``cell`` pixels apart to an h × w field."""
    y0, y1, fy = lerp_table(h, cell, smooth)
    x0, x1, fx = lerp_table(w, cell, smooth)
    # Columns first on the few grid rows, then whole-row gathers (plain copies) at full size.
    cols = grid[:, x0]
    cols += (grid[:, x1] - cols) * fx
    out = cols[y1]
    out -= cols[y0]
    out *= fy[:, None]
    out += cols[y0]
    return out


def fbm_grid(
    rng: np.random.Generator, h: int, w: int, cells: tuple[int, ...], gains: tuple[float, ...]
) -> np.ndarray:
    """Multi-octave value noise in [0, 1] for an h × w image, sampled every ``NOISE_BASE`` px."""
    hb, wb = (h - 1) // NOISE_BASE + 2, (w - 1) // NOISE_BASE + 2
    total = np.zeros((hb, wb), F32)
    for cell, gain in zip(cells, gains, strict=True):
        step = cell // NOISE_BASE
        if step <= 1:
            total += gain * rng.random((hb, wb), dtype=F32)
            continue
        grid = rng.random(((hb - 1) // step + 2, (wb - 1) // step + 2), dtype=F32)
        total += gain * upsample(grid, hb, wb, step, smooth=True)
    low, high = total.min(), total.max()
    total -= low
    total *= F32(1.0) / max(high - low, F32(1e-6))
    return total
