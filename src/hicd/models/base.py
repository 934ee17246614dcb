"""The base class of every change-detection network: input checks, padding and cropping."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from hicd.errors import DataError
from hicd.models.encoders import Encoder
from hicd.models.normalization import resolve_statistics
from hicd.models.output import ChangeOutput
from hicd.models.padding import check_pad_mode, is_tracing, pad_to_multiple


class ChangeDetectionModel(nn.Module, ABC):
    """Siamese change detector: ``model(t1, t2) -> ChangeOutput``.

    Inputs are [0, 1] images; the model standardises them with its per-band ``mean`` and ``std``
    (ImageNet statistics by default; in ``config``). Both dates go through the same ``encoder``
    (shared weights). Inputs of any H×W are padded at the
    bottom/right to a multiple of ``output_stride`` (``pad_mode``, reflect by default) and the logits
    are cropped back to H×W; with ``strict_size=True`` such inputs are refused instead. Features in
    the output are those of the padded input (level at stride s: ceil(H / output_stride) ·
    output_stride / s rows).

    Attributes:
        encoder_channels: channels of each encoder level (``features_t1``/``features_t2``).
        change_channels: channels of each fused level (``change_features``).
        output_stride: the coarsest encoder stride; inputs are padded to a multiple of it.
        in_channels: input bands per date.
        mean, std: the resolved per-band statistics (lists of floats).
        config: keyword arguments that rebuild the architecture with ``create_model(**config)``;
            ``create_model`` records them from the constructor's arguments.
    """

    name: ClassVar[str]
    """The architecture's name in ``hicd.models.MODELS``."""

    def __init__(
        self,
        encoder: Encoder,
        change_channels: list[int],
        in_channels: int,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        pad_mode: str = "reflect",
        strict_size: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.encoder_channels = list(encoder.channels)
        self.change_channels = list(change_channels)
        self.output_stride = max(encoder.strides)
        self.in_channels = int(in_channels)
        self.pad_mode = check_pad_mode(pad_mode)
        self.strict_size = strict_size
        self.mean, self.std = resolve_statistics(self.in_channels, mean, std)
        for key, values in (("input_mean", self.mean), ("input_std", self.std)):
            self.register_buffer(key, torch.tensor(values).view(1, -1, 1, 1), persistent=False)
        self.config: dict[str, Any] = {}

    def encode_pair(self, t1: Tensor, t2: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Run the shared encoder on both dates in one batch; return (features_t1, features_t2)."""
        batch = t1.shape[0]
        features = self.encoder(torch.cat([t1, t2], dim=0))
        return [f[:batch] for f in features], [f[batch:] for f in features]

    def forward(self, t1: Tensor, t2: Tensor) -> ChangeOutput:
        if not is_tracing():
            self._check_inputs(t1, t2)
        height, width = t1.shape[-2:]
        t1, t2 = self.normalize(t1), self.normalize(t2)
        t1 = pad_to_multiple(t1, self.output_stride, self.pad_mode)
        t2 = pad_to_multiple(t2, self.output_stride, self.pad_mode)
        output = self.forward_padded(t1, t2)
        output.logits = output.logits[..., :height, :width]
        return output

    def normalize(self, images: Tensor) -> Tensor:
        """Standardise [0, 1] inputs with the model's per-band mean and std."""
        return (images - self.input_mean) / self.input_std

    @abstractmethod
    def forward_padded(self, t1: Tensor, t2: Tensor) -> ChangeOutput:
        """The network on inputs whose H and W are multiples of ``output_stride``."""

    def _check_inputs(self, t1: Tensor, t2: Tensor) -> None:
        name = self.name
        if t1.ndim != 4 or t1.shape != t2.shape:
            raise DataError(
                f"model {name!r} needs t1 and t2 of the same B×C×H×W shape, "
                f"got {tuple(t1.shape)} and {tuple(t2.shape)}"
            )
        if t1.shape[1] != self.in_channels:
            raise DataError(
                f"model {name!r} was built for in_channels={self.in_channels}, "
                f"got inputs with {t1.shape[1]} channels"
            )
        height, width = t1.shape[-2:]
        stride = self.output_stride
        if self.strict_size and (height % stride or width % stride):
            raise DataError(
                f"model {name!r} with strict_size=True needs H and W divisible by its stride "
                f"{stride}, got {height}×{width}; pad the input or build it with strict_size=False"
            )
