"""Training-time transforms of bi-temporal samples.

Geometry is shared: one random crop window, flip and rotation is drawn per sample and applied
identically to ``t1``, ``t2`` and ``mask`` (torchvision.transforms.v2 draws one set of
parameters for all ``tv_tensors`` in a call).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from hicd.data.io import IGNORE_INDEX

Sample = dict[str, Any]
OTHER_DATE = {"t1": "t2", "t2": "t1"}


class RandomRot90(v2.Transform):
    """Rotate every image and mask of a sample by the same random multiple of 90 degrees."""

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"k": int(torch.randint(0, 4, ()).item())}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, tv_tensors.Image | tv_tensors.Mask):
            return tv_tensors.wrap(torch.rot90(inpt, params["k"], dims=(-2, -1)), like=inpt)
        return inpt


class SharedGeometry:
    """Apply a torchvision v2 transform to ``t1``, ``t2`` and ``mask`` with shared parameters."""

    def __init__(self, transform: v2.Transform) -> None:
        self.transform = transform

    def __call__(self, sample: Sample) -> Sample:
        wrapped = {
            "t1": tv_tensors.Image(sample["t1"]),
            "t2": tv_tensors.Image(sample["t2"]),
            "mask": tv_tensors.Mask(sample["mask"]),
        }
        out = self.transform(wrapped)
        return {**sample, **{key: value.as_subclass(torch.Tensor) for key, value in out.items()}}


class RandomDateSwap:
    """Swap the two dates with probability ``p``; ``degraded_date`` and ``levels`` follow their
    images."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, sample: Sample) -> Sample:
        if random.random() >= self.p:
            return sample
        swapped = {**sample, "t1": sample["t2"], "t2": sample["t1"]}
        if "degraded_date" in sample:
            swapped["degraded_date"] = OTHER_DATE[sample["degraded_date"]]
        if "levels" in sample:
            swapped["levels"] = sample["levels"].flip(0)
        return swapped


class Compose:
    """Apply sample transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for transform in self.transforms:
            sample = transform(sample)
        return sample


def training_transform(
    crop_size: int | None = 256,
    flips: bool = True,
    rot90: bool = True,
    date_swap: float = 0.0,
) -> Compose:
    """Random shared crop (padding small images, labels padded with 255), flips, 90° rotations
    and an optional date swap."""
    geometry: list[v2.Transform] = []
    if crop_size is not None:
        fill = {tv_tensors.Image: 0.0, tv_tensors.Mask: IGNORE_INDEX}
        geometry.append(v2.RandomCrop(crop_size, pad_if_needed=True, fill=fill))
    if flips:
        geometry += [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]
    if rot90:
        geometry.append(RandomRot90())
    steps: list[Callable[[Sample], Sample]] = []
    if geometry:
        steps.append(SharedGeometry(v2.Compose(geometry)))
    if date_swap > 0:
        steps.append(RandomDateSwap(date_swap))
    return Compose(steps)
