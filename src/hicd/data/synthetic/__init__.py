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

Modules: ``dataset`` (the public API below), ``scene`` (one scene's layout and both dates),
``textures`` (noise, tree crowns, roofs), ``draws`` (the scene's scalar random draws) and
``raster`` (array primitives).
"""

from hicd.data.synthetic.dataset import (
    DEFAULT_SPLITS,
    SyntheticChangeDataset,
    generate_pair,
    split_indices,
    write_synthetic_dataset,
)

__all__ = [
    "DEFAULT_SPLITS",
    "SyntheticChangeDataset",
    "generate_pair",
    "split_indices",
    "write_synthetic_dataset",
]
