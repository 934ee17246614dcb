"""Change-detection networks: ``create_model(name, backbone, pretrained, in_channels, **options)``.

Every model is a :class:`ChangeDetectionModel`: a Siamese (weight-shared) encoder over both dates,
a fusion step into change features, a decoder and a 2-class head. ``forward(t1, t2)`` returns a
:class:`ChangeOutput` with logits at input size and, per level, the features of both dates and
the change features (so distillation reads them without hooks):

* ``siam_fpn`` (default): 4 encoder levels at strides 4, 8, 16, 32 → 4 change levels
  (``decoder_channels`` each, same strides) → FPN top-down decoder → head at stride 4.
* ``bit``: 3 encoder levels (``encoder_levels``) at strides 4, 8, 16 → projection at stride 4 →
  semantic tokens → transformer encoder/decoder → |difference|: 1 change level at stride 4.

Inputs of any H×W are padded at the bottom/right to a multiple of ``output_stride`` (reflect) and
the logits are cropped back.
"""

from hicd.models.base import ChangeDetectionModel
from hicd.models.encoders import DEFAULT_BACKBONE, create_encoder, list_backbones
from hicd.models.export import LogitsOnly, export_onnx
from hicd.models.output import ChangeOutput
from hicd.models.registry import DEFAULT_MODEL, MODELS, create_model, list_models, model_options

__all__ = [
    "DEFAULT_BACKBONE",
    "DEFAULT_MODEL",
    "MODELS",
    "ChangeDetectionModel",
    "ChangeOutput",
    "LogitsOnly",
    "create_encoder",
    "create_model",
    "export_onnx",
    "list_backbones",
    "list_models",
    "model_options",
]
