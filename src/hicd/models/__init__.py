"""Change-detection networks: ``create_model(name, backbone, pretrained, in_channels, **options)``.

Every model is a :class:`ChangeDetectionModel` whose ``forward(t1, t2)`` returns a
:class:`ChangeOutput` (logits at input size, per-level features of both dates, change features).
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
