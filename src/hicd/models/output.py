"""The typed output every change-detection model returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class ChangeOutput:
    """What ``model(t1, t2)`` returns.

    Attributes:
        logits: B×2×H×W change logits at input size (channel 1 is "change").
        features_t1: encoder features of date t1, one B×C_l×H_l×W_l tensor per level.
        features_t2: encoder features of date t2, same shapes as ``features_t1``.
        change_features: fused change features, one tensor per fused level.
    """

    logits: Tensor
    features_t1: list[Tensor] = field(default_factory=list)
    features_t2: list[Tensor] = field(default_factory=list)
    change_features: list[Tensor] = field(default_factory=list)
