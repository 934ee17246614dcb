"""Raster primitives on planar (3 × H × W) float32 images and 2-D masks: shifts, dilation,
shadows, colours and interleaving."""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32


def cast_shadows(lengths: np.ndarray, sun: tuple[float, float]) -> np.ndarray:
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


def subpixel_shift(image: np.ndarray, dy: float, dx: float) -> None:
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
        step *= F32(abs(shift))
        if shift > 0:  # out[i] = in[i] - shift · (in[i] - in[i - 1])
            flat[stride:] -= step
        else:  # out[i] = in[i] + |shift| · (in[i + 1] - in[i])
            flat[:-stride] += step
        image[tuple(edge)] = kept


def shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = a[y - dy, x - dx]``, zero where that falls outside."""
    h, w = a.shape
    out = np.zeros_like(a)
    if abs(dy) < h and abs(dx) < w:
        out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = a[
            max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
    return out


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
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


def planar_colour(values: np.ndarray) -> np.ndarray:
    """Per-channel values shaped (3, 1, 1) to broadcast over a planar image."""
    return np.asarray(values, F32).reshape(3, 1, 1)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - F32(edge0)) * F32(1.0 / (edge1 - edge0)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def random_bytes(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform random int8 values (the cheapest bulk randomness numpy offers)."""
    return np.frombuffer(rng.bytes(math.prod(shape)), np.int8).reshape(shape)


def interleave(planar: np.ndarray) -> np.ndarray:
    """3 × H × W to a C-contiguous H × W × 3 copy (channel by channel: the fastest way)."""
    out = np.empty((*planar.shape[1:], 3), planar.dtype)
    for channel in range(3):
        out[:, :, channel] = planar[channel]
    return out
