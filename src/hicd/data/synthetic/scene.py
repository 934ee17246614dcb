"""One synthetic scene: its random layout (ground, roads, trees, buildings) and both dates.

Images are planar (3 × H × W) float32 until the final conversion: numpy broadcasts a colour over
a plane much faster than over a trailing axis of length 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hicd.data.synthetic.draws import Draws
from hicd.data.synthetic.raster import (
    F32,
    cast_shadows,
    dilate,
    interleave,
    planar_colour,
    random_bytes,
    shifted,
    smoothstep,
    subpixel_shift,
)
from hicd.data.synthetic.textures import (
    NOISE_BASE,
    crop_tile,
    crown_dome,
    crown_tile,
    fbm_grid,
    roof_colours,
    roof_style,
    upsample,
)

CHANGE_PROBABILITY = 0.85  # share of scenes with changed buildings


REF_AREA = 256 * 256  # densities below are given per 256×256 pixels (about 0.5 m per pixel)


SOIL = np.array(
    [[0.55, 0.46, 0.35], [0.63, 0.56, 0.45], [0.47, 0.40, 0.33], [0.70, 0.64, 0.54]], F32
)


GRASS = np.array(
    [[0.36, 0.42, 0.23], [0.46, 0.47, 0.29], [0.29, 0.37, 0.20], [0.53, 0.50, 0.34]], F32
)


TREE = np.array([[0.13, 0.20, 0.10], [0.18, 0.24, 0.13], [0.11, 0.17, 0.12]], F32)


PAVEMENT = np.array([[0.34, 0.34, 0.35], [0.45, 0.45, 0.45], [0.60, 0.59, 0.57]], F32)


MARKING = np.array([[0.92], [0.91], [0.85]], F32)


# Seasonal multiplicative tints of vegetation (dry/autumn, lush/spring, pale/winter).
TINTS = np.array([[0.30, 0.10, -0.12], [-0.15, 0.08, -0.10], [0.15, 0.05, 0.10]], F32)


@dataclass(frozen=True)
class Building:
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
class Road:
    """A straight road through (cy, cx) with unit normal (ny, nx); ``edge`` is its half width
    including any sidewalk. Across coordinate u = (x - cx)·nx + (y - cy)·ny, along v."""

    cy: float
    cx: float
    ny: float
    nx: float
    edge: float

    def point(self, v: float, u: float) -> tuple[float, float]:
        return self.cy + v * self.nx + u * self.ny, self.cx - v * self.ny + u * self.nx


class Scene:
    """Draws one scene's random layout at construction; ``render`` makes both dates."""

    def __init__(self, rng: np.random.Generator, h: int, w: int) -> None:
        self.rng, self.draw, self.h, self.w = rng, Draws(rng), h, w
        self.area_scale = h * w / REF_AREA
        self.ys = np.arange(h, dtype=F32)[:, None]
        self.xs = np.arange(w, dtype=F32)[None, :]
        angle = self.draw.uniform(0.0, 2.0 * math.pi)
        self.sun = (math.sin(angle), math.cos(angle))  # direction shadows fall, (dy, dx)
        self.shade = planar_colour(np.array([0.40, 0.43, 0.54]) * self.draw.uniform(0.8, 1.15))
        self.grain = random_bytes(rng, (h, w)).view(np.uint8) * F32(1.0 / 255.0)
        self.image, self.veg = self._ground()
        self.streets: list[Road] = []
        self.occupied = self._roads()
        self.tree_shadow = self._trees()
        self.buildings = self._buildings()

    # -- layers ----------------------------------------------------------------------------

    def _fbm(self, cells: tuple[int, ...], gains: tuple[float, ...]) -> np.ndarray:
        """Value noise in [0, 1] on the coarse grid; ``_full`` brings it to pixel resolution."""
        return fbm_grid(self.rng, self.h, self.w, cells, gains)

    def _full(self, grid: np.ndarray, smooth: bool = False) -> np.ndarray:
        return upsample(grid, self.h, self.w, NOISE_BASE, smooth)

    def _ground(self) -> tuple[np.ndarray, np.ndarray]:
        draw = self.draw
        land = self._fbm((128, 64, 32, 16), (1.0, 0.6, 0.35, 0.2))
        detail = self._fbm((32, 16, 8, 4), (1.0, 0.7, 0.5, 0.35))
        grass_cover = draw.uniform(0.2, 0.8)
        veg = self._full(smoothstep(grass_cover - 0.12, grass_cover + 0.12, land))
        soil, grass = draw.colour(SOIL, 0.06), draw.colour(GRASS, 0.06)
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
            paving = draw.colour(PAVEMENT, 0.04)
            if road.edge > width / 2 + 1:  # kerb / sidewalk band
                walk = np.clip(road.edge - dist, 0.0, 1.0)
                self._paint(walk, draw.colour(PAVEMENT[2:], 0.03), shading)
                occupied |= walk > 0
            alpha = np.clip(width / 2 + 0.5 - dist, 0.0, 1.0)
            self._paint(alpha, paving, shading)
            occupied |= alpha > 0
            if width >= 10 and draw.random() < 0.7:
                period = draw.uniform(10.0, 18.0)
                centre = np.nonzero(dist < 0.8)
                dashes = v[centre] % period < period * 0.5
                self.image[:, centre[0][dashes], centre[1][dashes]] = MARKING
            if not bend and min(abs(road.nx), abs(road.ny)) < 0.1:
                self.streets.append(road)
        return dilate(occupied, 2)

    def _road_geometry(self) -> tuple[Road, float, float]:
        """A road mostly along an image axis, its bend (0 for straight) and its width."""
        draw = self.draw
        axis = (0.0, 0.5 * math.pi, draw.uniform(0.0, math.pi))[draw.choice((0.4, 0.8, 1.0))]
        angle = axis + draw.normal(0.02)
        width = draw.uniform(6.0, 16.0)
        edge = width / 2 + (2.5 if draw.random() < 0.5 else 0.5)
        cy, cx = draw.uniform(0.1, 0.9) * self.h, draw.uniform(0.1, 0.9) * self.w
        road = Road(cy, cx, math.sin(angle), math.cos(angle), edge)
        bend = 0.0
        if draw.random() < 0.35:
            bend = draw.uniform(0.4, 1.5) * (1 if draw.random() < 0.5 else -1) / max(self.h, self.w)
        return road, bend, width

    def _trees(self) -> np.ndarray:
        """Paint woodland and scattered trees; return their soft cast-shadow map."""
        draw, h, w = self.draw, self.h, self.w
        # Where trees grow: woodland patches plus scattered small spots (single trees, clumps).
        cover = draw.uniform(0.0, 0.4)
        zone = smoothstep(1.0 - cover, 1.1 - cover, self._fbm((96, 48, 24), (1.0, 0.5, 0.25)))
        rare = draw.uniform(0.66, 0.85)  # the higher, the fewer scattered clumps
        np.maximum(zone, smoothstep(rare, rare + 0.12, self._fbm((12, 8), (1.0, 0.5))), out=zone)
        # Packed crowns fill the zone; along its rim only the taller crowns remain.
        crowns = crop_tile(crown_tile(), h, w, draw)
        height = self._full(zone)
        height += crowns
        height -= 1.0
        canopy = np.clip(height * 8.0, 0.0, 1.0)
        height = crowns * canopy
        self._scatter_trees(height, canopy)
        free = np.where(self.occupied, F32(0.0), F32(1.0))
        height *= free
        canopy *= free
        sy, sx = self.sun
        shading = height - shifted(height, round(-2 * sy), round(-2 * sx))  # lit side
        shading *= 1.2
        shading += 0.6 * height + 0.5
        shading += 0.15 * self.grain
        self._paint(canopy, draw.colour(TREE, 0.08), shading)
        self.veg *= free
        np.maximum(self.veg, canopy, out=self.veg)
        length = draw.uniform(2.0, 5.0)
        shadow = shifted(canopy, round(length * sy), round(length * sx))
        shadow *= 1.0 - canopy
        return shadow

    def _scatter_trees(self, height: np.ndarray, canopy: np.ndarray) -> None:
        """Add free-standing round crowns (off the roads) to the height and canopy maps."""
        draw, h, w = self.draw, self.h, self.w
        for _ in range(round(draw.uniform(3, 25) * self.area_scale)):
            cy, cx = draw.index(h), draw.index(w)
            dome = crown_dome(round(draw.uniform(2.5, 6.5) * 2) / 2)
            if self.occupied[cy, cx]:
                continue
            r = dome.shape[0] // 2
            top, left = max(cy - r, 0), max(cx - r, 0)
            bottom, right = min(cy + r + 1, h), min(cx + r + 1, w)
            part = dome[top - cy + r : bottom - cy + r, left - cx + r : right - cx + r]
            window = (slice(top, bottom), slice(left, right))
            np.maximum(height[window], part, out=height[window])
            np.maximum(canopy[window], np.clip(part * 6.0, 0.0, 1.0), out=canopy[window])

    def _buildings(self) -> list[Building]:
        """Unchanged buildings, then changed ones until the scene's change target is met."""
        draw, h, w = self.draw, self.h, self.w
        self.taken = self.occupied.copy()
        self.street_share = draw.uniform(0.3, 0.9) if self.streets else 0.0
        buildings: list[Building] = []
        for _ in range(round(draw.uniform(6, 40) * self.area_scale)):
            self._place(buildings, (True, True), None, h * w)
        if draw.random() < CHANGE_PROBABILITY:
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
        buildings: list[Building],
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
        style = roof_style(draw)
        shadow = draw.uniform(2.5, 8.0)
        for pt, pl, ph, pw in parts:
            self.taken[pt : pt + ph, pl : pl + pw] = True
            grain = self.grain[pt : pt + ph, pl : pl + pw]
            patch = roof_colours(draw, style, self.sun, grain)
            buildings.append(Building(pt, pl, patch, shadow, present))
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
    ) -> tuple[tuple[int, int], tuple[Road, float, float]] | None:
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
        self, top: int, left: int, bh: int, bw: int, road: Road, side: float, setback: float
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
        colour = draw.colour(PAVEMENT[2:], 0.04)
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
        tint = planar_colour(TINTS[draw.index(len(TINTS))] * draw.uniform(0.3, 1.0))
        # Uniform sensor noise; every channel and date reads the same buffer at its own offset.
        lags = [draw.index(w) + w * (1 + draw.index(7)) for _ in range(6)]
        noise = random_bytes(self.rng, (h * w + max(lags),))
        noise = noise * F32(draw.uniform(0.005, 0.02) * 255.0 * math.sqrt(3.0) / 128.0)
        dates = []
        for date in (0, 1):
            image = self._date(date, tint if date else None)
            if date:
                subpixel_shift(image, draw.uniform(-0.8, 0.8), draw.uniform(-0.8, 0.8))
            for channel, lag in enumerate(lags[3 * date : 3 * date + 3]):
                image[channel] += noise[lag : lag + h * w].reshape(h, w)
            np.clip(image, 0.0, 255.0, out=image)
            dates.append(interleave(image.astype(np.uint8)))
        return dates[0], dates[1], mask

    def _date(self, date: int, tint: np.ndarray | None) -> np.ndarray:
        """One date before resampling and sensor noise, scaled to 0–255 (+0.5 to round)."""
        draw = self.draw
        present = [b for b in self.buildings if b.present[date]]
        scale = draw.uniform(0.8, 1.2)
        lengths = np.zeros((self.h, self.w), F32)
        for b in present:
            lengths[b.rows, b.cols] = b.shadow * scale
        cast = cast_shadows(lengths, self.sun)
        level, off = draw.uniform(0.85, 1.15), draw.uniform(-0.05, 0.05)
        gain = planar_colour([level * draw.uniform(0.94, 1.06) * 255.0 for _ in range(3)])
        offset = planar_colour([(off + draw.uniform(-0.02, 0.02)) * 255.0 + 0.5 for _ in range(3)])
        factor = np.maximum(self.tree_shadow, cast.view(np.uint8), dtype=F32)
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
