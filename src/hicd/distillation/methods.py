"""Distillation objectives: none, FitNet feature MSE, logit KD and HiCD correlation distillation.

Each objective is an ``nn.Module`` mapping (student output, teacher output) to a
:class:`DistillationTerms`; :data:`METHODS` maps ``DistillationConfig.method`` to its builder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hicd.distillation.config import DistillationConfig
from hicd.distillation.correlation import (
    cross_correlation_loss,
    global_correlation_loss,
    self_correlation_loss,
)
from hicd.errors import ConfigError
from hicd.models.output import ChangeOutput


@dataclass
class DistillationTerms:
    """``total`` (weighted, added to L_CD), every term by name (unweighted, plus each module's
    total) and ``weights``: the factor of each unweighted term in ``total``, so that
    ``total == Σ weights[name]·terms[name]``."""

    total: Tensor
    terms: dict[str, Tensor]
    weights: dict[str, float] = field(default_factory=dict)


def resolve_levels(levels: Sequence[int] | None, count: int, option: str) -> list[int]:
    """Validate ``levels`` against ``count`` available levels; None means all of them."""
    if count == 0:
        raise ConfigError(
            f"distillation.{option}: the model output has no features for this module; "
            "turn the module off or use a model that returns them"
        )
    if levels is None:
        return list(range(count))
    bad = [level for level in levels if not -count <= level < count]
    if bad:
        raise ConfigError(
            f"distillation.{option}: levels {bad} out of range for {count} feature levels"
        )
    return [level % count for level in levels]


def _level_count(student: Sequence[Tensor], teacher: Sequence[Tensor], option: str) -> int:
    if len(student) != len(teacher):
        raise ConfigError(
            f"distillation.{option}: student has {len(student)} feature levels, teacher has "
            f"{len(teacher)}; choose levels explicitly"
        )
    return len(student)


Term = tuple[str, str, float, Tensor]
"""A loss term: its name, its kind (``self``, ``cross`` or ``global``), the kind's weight and the
unweighted value."""
LevelLoss = Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor]
"""A loss on one level: (student features, teacher features) of that level → scalar."""
Kinds = dict[str, tuple[str, LevelLoss]]
"""Term name → (kind, loss) of one module's terms at every level."""


def _switches(config: DistillationConfig) -> dict[str, tuple[bool, float]]:
    """Kind → (on, weight)."""
    return {
        "self": (config.use_self, config.w_self),
        "cross": (config.use_cross, config.w_cross),
        "global": (config.use_global, config.w_global),
    }


def _level_terms(
    prefix: str,
    student: Sequence[Sequence[Tensor]],
    teacher: Sequence[Sequence[Tensor]],
    config: DistillationConfig,
    option: str,
    kinds: Kinds,
) -> list[Term]:
    """Every enabled term at every level of ``config.<option>``, named ``prefix/name/lLEVEL``."""
    count = _level_count(student, teacher, option)
    switches = _switches(config)
    return [
        (f"{prefix}/{name}/l{level}", kind, switches[kind][1], loss(student[level], teacher[level]))
        for level in resolve_levels(getattr(config, option), count, option)
        for name, (kind, loss) in kinds.items()
        if switches[kind][0]
    ]


def term_weights(entries: Sequence[Term], scale: float, reduction: str) -> dict[str, float]:
    """The factor of each term in its module's total.

    ``sum``: ``scale·w_kind``. ``mean``: ``scale·w_kind / (Σ_kinds w · n_kind)``, i.e. the
    module is the ``w``-weighted mean over kinds of each kind's mean term.
    """
    if reduction == "sum":
        return {name: scale * weight for name, _, weight, _ in entries}
    counts: dict[str, int] = {}
    kind_weights: dict[str, float] = {}
    for _, kind, weight, _ in entries:
        counts[kind] = counts.get(kind, 0) + 1
        kind_weights[kind] = weight
    norm = sum(kind_weights.values())
    if norm == 0:
        return {name: 0.0 for name, *_ in entries}
    return {name: scale * weight / (norm * counts[kind]) for name, kind, weight, _ in entries}


class DistillationObjective(nn.Module):
    """Base of the objectives: ``forward(student_out, teacher_out) -> DistillationTerms``."""

    needs_teacher = True

    @classmethod
    def from_models(
        cls, config: DistillationConfig, student: nn.Module, teacher: nn.Module | None
    ) -> DistillationObjective:
        """Build the objective for ``student`` and ``teacher`` (the teacher exists if needed)."""
        return cls(config)

    def __init__(self, config: DistillationConfig) -> None:
        super().__init__()
        self.config = config


class NoDistillation(DistillationObjective):
    """``none``: the student learns from the labels alone."""

    needs_teacher = False

    def forward(self, student: ChangeOutput, teacher: ChangeOutput | None) -> DistillationTerms:
        return DistillationTerms(student.logits.new_zeros((), dtype=torch.float32), {})


class CorrelationDistillation(DistillationObjective):
    """``hicd``: hierarchical correlation distillation (SFD on encoder, CFD on change features)."""

    def _sfd(self, s: ChangeOutput, t: ChangeOutput) -> list[Term]:
        c = self.config.centered
        kinds: Kinds = {
            "self_t1": ("self", lambda s, t: self_correlation_loss(s[0], t[0], c)),
            "self_t2": ("self", lambda s, t: self_correlation_loss(s[1], t[1], c)),
            "cross": ("cross", lambda s, t: cross_correlation_loss(s[0], s[1], t[0], t[1], c)),
            "global": (
                "global",
                lambda s, t: global_correlation_loss(torch.cat(s), torch.cat(t), c),
            ),
        }
        student = list(zip(s.features_t1, s.features_t2, strict=True))
        teacher = list(zip(t.features_t1, t.features_t2, strict=True))
        return _level_terms("sfd", student, teacher, self.config, "sfd_levels", kinds)

    def _cfd(self, s: ChangeOutput, t: ChangeOutput) -> list[Term]:
        c = self.config.centered
        kinds: Kinds = {
            "self": ("self", lambda s, t: self_correlation_loss(s[0], t[0], c)),
            "global": ("global", lambda s, t: global_correlation_loss(s[0], t[0], c)),
        }
        student = [(f,) for f in s.change_features]
        teacher = [(f,) for f in t.change_features]
        return _level_terms("cfd", student, teacher, self.config, "cfd_levels", kinds)

    def forward(self, student: ChangeOutput, teacher: ChangeOutput | None) -> DistillationTerms:
        assert teacher is not None
        cfg = self.config
        zero = student.logits.new_zeros((), dtype=torch.float32)
        modules = {
            "sfd": (cfg.use_sfd, cfg.lambda_sfd, self._sfd),
            "cfd": (cfg.use_cfd, cfg.lambda_cfd, self._cfd),
        }
        terms: dict[str, Tensor] = {}
        weights: dict[str, float] = {}
        total = zero
        for name, (on, scale, collect) in modules.items():
            if not on:
                continue
            entries = collect(student, teacher)
            module_weights = term_weights(entries, scale, cfg.reduction)
            terms |= {key: value for key, _, _, value in entries}
            terms[name] = sum((module_weights[key] * value for key, _, _, value in entries), zero)
            weights |= module_weights
            total = total + terms[name]
        return DistillationTerms(total, terms, weights)


def _adapter(in_channels: int, out_channels: int) -> nn.Conv2d:
    """1×1 conv; the identity where channels match, so an identical student starts at zero loss."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
    if in_channels == out_channels:
        with torch.no_grad():
            conv.weight.copy_(torch.eye(in_channels)[:, :, None, None])
            conv.bias.zero_()
    return conv


@dataclass
class FeatureChannels:
    """Channels of each encoder level and each change-feature level of a model."""

    encoder: list[int]
    change: list[int]


def feature_channels(model: nn.Module, probe_size: int = 64) -> FeatureChannels:
    """Read ``encoder_channels``/``change_channels``, or probe the model once on zeros."""
    encoder = getattr(model, "encoder_channels", None)
    change = getattr(model, "change_channels", None)
    if encoder is not None and change is not None:
        return FeatureChannels(list(encoder), list(change))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(1, getattr(model, "in_channels", 3), probe_size, probe_size, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out: ChangeOutput = model(x, x)
    finally:
        model.train(was_training)
    return FeatureChannels(
        [f.shape[1] for f in out.features_t1], [f.shape[1] for f in out.change_features]
    )


class FeatureDistillation(DistillationObjective):
    """``feature``: FitNet-style MSE between adapted student features and teacher features.

    A 1×1 conv adapter per level maps student channels to teacher channels; the same encoder
    adapter serves both dates. Levels follow ``sfd_levels``/``cfd_levels`` and the
    ``use_sfd``/``use_cfd`` switches.
    """

    def __init__(
        self, config: DistillationConfig, student: FeatureChannels, teacher: FeatureChannels
    ) -> None:
        super().__init__(config)
        self.encoder_levels: list[int] = []
        self.change_levels: list[int] = []
        if config.use_sfd:
            count = _level_count(student.encoder, teacher.encoder, "sfd_levels")
            self.encoder_levels = resolve_levels(config.sfd_levels, count, "sfd_levels")
        if config.use_cfd:
            count = _level_count(student.change, teacher.change, "cfd_levels")
            self.change_levels = resolve_levels(config.cfd_levels, count, "cfd_levels")
        self.encoder_adapters = nn.ModuleDict(
            {str(i): _adapter(student.encoder[i], teacher.encoder[i]) for i in self.encoder_levels}
        )
        self.change_adapters = nn.ModuleDict(
            {str(i): _adapter(student.change[i], teacher.change[i]) for i in self.change_levels}
        )

    @classmethod
    def from_models(
        cls, config: DistillationConfig, student: nn.Module, teacher: nn.Module | None
    ) -> DistillationObjective:
        assert teacher is not None
        return cls(config, feature_channels(student), feature_channels(teacher))

    @staticmethod
    def _mse(adapter: nn.Module, fs: Tensor, ft: Tensor) -> Tensor:
        mapped = adapter(fs)
        if mapped.shape != ft.shape:
            raise ConfigError(
                f"feature distillation: adapted student shape {tuple(mapped.shape)} does not "
                f"match teacher shape {tuple(ft.shape)}"
            )
        return F.mse_loss(mapped.float(), ft.float())

    def forward(self, student: ChangeOutput, teacher: ChangeOutput | None) -> DistillationTerms:
        assert teacher is not None
        terms: dict[str, Tensor] = {}
        for i in self.encoder_levels:
            adapter = self.encoder_adapters[str(i)]
            terms[f"feature/enc_t1/l{i}"] = self._mse(
                adapter, student.features_t1[i], teacher.features_t1[i]
            )
            terms[f"feature/enc_t2/l{i}"] = self._mse(
                adapter, student.features_t2[i], teacher.features_t2[i]
            )
        for i in self.change_levels:
            adapter = self.change_adapters[str(i)]
            terms[f"feature/change/l{i}"] = self._mse(
                adapter, student.change_features[i], teacher.change_features[i]
            )
        zero = student.logits.new_zeros((), dtype=torch.float32)
        weights = dict.fromkeys(terms, self.config.lambda_kd)
        terms["feature"] = self.config.lambda_kd * sum(terms.values(), zero)
        return DistillationTerms(terms["feature"], terms, weights)


class LogitDistillation(DistillationObjective):
    """``logit``: τ²·KL(teacher ‖ student) of the per-pixel softmax at temperature τ.

    Averaged over all pixels (labels, and so ``ignore_index``, play no part).
    """

    def forward(self, student: ChangeOutput, teacher: ChangeOutput | None) -> DistillationTerms:
        assert teacher is not None
        tau = self.config.temperature
        log_s = F.log_softmax(student.logits.float() / tau, dim=1)
        log_t = F.log_softmax(teacher.logits.float() / tau, dim=1)
        kl = F.kl_div(log_s, log_t, log_target=True, reduction="none").sum(dim=1).mean()
        terms = {"logit/kl": tau**2 * kl}
        terms["logit"] = self.config.lambda_kd * terms["logit/kl"]
        return DistillationTerms(terms["logit"], terms, {"logit/kl": self.config.lambda_kd})


METHODS: dict[str, type[DistillationObjective]] = {
    "none": NoDistillation,
    "feature": FeatureDistillation,
    "logit": LogitDistillation,
    "hicd": CorrelationDistillation,
}
"""Objective class of each ``DistillationConfig.method`` (the keys are
``hicd.distillation.config.METHOD_NAMES``, in order; a test keeps them equal); build with
``from_models``."""
