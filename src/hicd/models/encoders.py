"""Backbones that turn one image into a list of feature maps at strides 4, 8, 16 and 32.

Two families, chosen by name:

* ``tv_mobilenet_v2``: torchvision's MobileNetV2. Its ``features`` are split into stages ending at
  strides 4, 8, 16, 32 with 24, 32, 96, 320 channels (``features[0:4]``, ``[4:7]``, ``[7:14]``,
  ``[14:18]``; the final 1×1 conv to 1280 channels is dropped). A weights file is the full
  torchvision classification state dict (e.g. ``mobilenet_v2-b0353104.pth``), loaded strictly
  into ``torchvision.models.mobilenet_v2()`` before ``features`` is taken.
* any other name: a timm CNN (NCHW or NHWC features, any input size) built with ``features_only=True`` and the ``out_indices`` whose
  reductions are 4, 8, 16, 32. A weights file is the full timm classification state dict of that
  model, loaded strictly into ``timm.create_model(name)``; the encoder then takes its tensors.

timm's ``mobilenetv2_100`` names its parameters differently from torchvision, so it cannot load the
torchvision file: the default backbone is therefore ``tv_mobilenet_v2``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import timm
import torch
import torchvision
from torch import Tensor, nn

from hicd.errors import ConfigError
from hicd.models.input_conv import adapt_first_conv
from hicd.models.pretrained import load_strict, read_state_dict

STRIDES = (4, 8, 16, 32)
DEFAULT_BACKBONE = "tv_mobilenet_v2"
IMAGENET = "imagenet"

Pretrained = str | Path | None


def resolve_pretrained(pretrained: Pretrained) -> Path | str | None:
    """``None``, ``"imagenet"`` (the only value that may download) or the Path of a weights file."""
    if pretrained is None or pretrained == IMAGENET:
        return pretrained
    return Path(pretrained)


class Encoder(nn.Module):
    """Image B×C×H×W → list of feature maps, level ``i`` at stride ``strides[i]``."""

    channels: list[int]
    strides: list[int]


class TorchvisionMobileNetV2(Encoder):
    """torchvision MobileNetV2 ``features`` split at strides 4, 8, 16, 32 (first ``num_levels``)."""

    STAGE_ENDS = (4, 7, 14, 18)
    STAGE_CHANNELS = (24, 32, 96, 320)

    def __init__(self, num_levels: int = 4, pretrained: Pretrained = None) -> None:
        super().__init__()
        net = self._classifier(resolve_pretrained(pretrained))
        self.stage_ends = list(self.STAGE_ENDS[:num_levels])
        self.features = net.features[: self.stage_ends[-1]]
        self.channels = list(self.STAGE_CHANNELS[:num_levels])
        self.strides = list(STRIDES[:num_levels])

    @staticmethod
    def _classifier(pretrained: Path | str | None) -> nn.Module:
        if pretrained == IMAGENET:
            weights = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1
            return torchvision.models.mobilenet_v2(weights=weights)
        net = torchvision.models.mobilenet_v2()
        if isinstance(pretrained, Path):
            what = "torchvision.models.mobilenet_v2() (backbone 'tv_mobilenet_v2')"
            load_strict(net, read_state_dict(pretrained), pretrained, what)
        return net

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs = []
        for index, layer in enumerate(self.features, start=1):
            x = layer(x)
            if index in self.stage_ends:
                outputs.append(x)
        return outputs


def _flat_key(key: str) -> str:
    # timm feature wrappers may flatten "stem.0" into "stem_0"
    return key.replace(".", "_")


class TimmEncoder(Encoder):
    """A timm model with ``features_only=True``, keeping the levels at strides 4, 8, 16, 32."""

    def __init__(self, name: str, num_levels: int = 4, pretrained: Pretrained = None) -> None:
        super().__init__()
        pretrained = resolve_pretrained(pretrained)
        indices = self._out_indices(name, STRIDES[:num_levels])
        self.body = self._create(name, indices, pretrained == IMAGENET)
        if isinstance(pretrained, Path):
            self._load_file(name, pretrained)
        self.channels = list(self.body.feature_info.channels())
        self.strides = list(self.body.feature_info.reduction())
        self.channels_last = getattr(self.body, "output_fmt", "NCHW") == "NHWC"

    @staticmethod
    def _create(name: str, out_indices: tuple[int, ...] | None, pretrained: bool) -> nn.Module:
        try:
            return timm.create_model(
                name, features_only=True, out_indices=out_indices, pretrained=pretrained
            )
        except (RuntimeError, ValueError, TypeError, AssertionError) as error:
            raise ConfigError(
                f"backbone {name!r}: timm cannot build its features: {error}"
            ) from error

    @classmethod
    def _out_indices(cls, name: str, strides: tuple[int, ...]) -> tuple[int, ...]:
        with torch.device("meta"):
            probe = cls._create(name, None, pretrained=False)
        if probe.pretrained_cfg.get("fixed_input_size"):
            raise ConfigError(
                f"backbone {name!r} only takes a fixed input size; pick a CNN backbone"
            )
        reductions = list(probe.feature_info.reduction())
        missing = [s for s in strides if s not in reductions]
        if missing:
            raise ConfigError(
                f"backbone {name!r} gives features at strides {reductions}, "
                f"but strides {list(strides)} are needed"
            )
        return tuple(reductions.index(s) for s in strides)

    def _load_file(self, name: str, path: Path) -> None:
        full = timm.create_model(name, pretrained=False)
        load_strict(full, read_state_dict(path), path, f"timm model {name!r}")
        source = {_flat_key(k): v for k, v in full.state_dict().items()}
        target = self.body.state_dict()
        load_strict(
            self.body,
            {k: source[_flat_key(k)] for k in target if _flat_key(k) in source},
            path,
            f"the features of timm model {name!r}",
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        features = list(self.body(x))
        if self.channels_last:
            return [f.permute(0, 3, 1, 2) for f in features]
        return features


EncoderBuilder = Callable[[str, int, Pretrained], Encoder]

TORCHVISION_BACKBONES: dict[str, EncoderBuilder] = {
    "tv_mobilenet_v2": lambda _name, levels, pretrained: TorchvisionMobileNetV2(levels, pretrained),
}


def list_backbones() -> list[str]:
    """The torchvision backbone names; any name from ``timm.list_models()`` is accepted too."""
    return sorted(TORCHVISION_BACKBONES)


def _timm_builder(name: str) -> EncoderBuilder:
    if not timm.is_model(name):
        raise ConfigError(
            f"unknown backbone {name!r}: use one of {', '.join(list_backbones())} "
            "or a timm model name (see timm.list_models())"
        )
    return TimmEncoder


def create_encoder(
    name: str = DEFAULT_BACKBONE,
    num_levels: int = 4,
    pretrained: Pretrained = None,
    in_channels: int = 3,
) -> Encoder:
    """Build backbone ``name`` returning its first ``num_levels`` levels (strides 4, 8, 16, 32).

    ``pretrained``: None (random init), ``"imagenet"`` (downloads through timm/torchvision) or a
    weights file loaded strictly. With ``in_channels`` ≠ 3 the first convolution is adapted after
    loading (see :mod:`hicd.models.input_conv`).
    """
    if not 1 <= num_levels <= len(STRIDES):
        raise ConfigError(f"num_levels={num_levels} must be between 1 and {len(STRIDES)}")
    if in_channels < 1:
        raise ConfigError(f"in_channels={in_channels} must be at least 1")
    builder = TORCHVISION_BACKBONES.get(name) or _timm_builder(name)
    encoder = builder(name, num_levels, pretrained)
    adapt_first_conv(encoder, in_channels)
    return encoder
