"""What the study trains: distillation configurations, the two recipes, the budget, the plan.

The plan is fixed before it runs (docs/benchmarks.md): entries in order of priority, so a
stopped study keeps what matters most. A later run continues where the committed records stop.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from hicd.distillation import DistillationConfig

CONFIGS: dict[str, dict[str, Any]] = {
    "none": {"method": "none"},
    "hicd": {"method": "hicd"},  # the library defaults (λ 0.1)
    "feature": {"method": "feature"},
    "logit": {"method": "logit"},
    "hicd λ0.3": {"method": "hicd", "lambda_sfd": 0.3, "lambda_cfd": 0.3},
    "hicd λ1": {"method": "hicd", "lambda_sfd": 1.0, "lambda_cfd": 1.0},
    "hicd global×0.25": {"method": "hicd", "w_global": 0.25},
    "hicd warm-up": {"method": "hicd", "warmup_steps": 100},
}
"""Label → options of ``DistillationConfig`` (the rest at the library defaults). The global
weight applies to SFD and CFD alike; the CFD global term carries most of the distillation
gradient (benchmarks/distillation_gradients.py), so lowering it mostly lowers that term."""

CANDIDATES = ("hicd", "hicd λ0.3", "hicd λ1", "hicd global×0.25", "hicd warm-up")
"""The variants among which one (with its recipe) is chosen on validation."""

BASELINES = ("feature", "logit")
"""Plain distillation without correlations: ``hicd`` is also compared with them, since a gain
over ``none`` can be credited to correlations only where ``hicd`` beats these."""

CHOSEN = "chosen"
"""Plan label of the variant chosen on validation (resolved from the records)."""


UNLABELLED = " +unlabelled"
"""Label suffix: the same configuration trained with unlabelled pairs as well
(``data.unlabelled_root``: label-free distillation on imagery that is no test image), the
student's BatchNorm running statistics left to the labelled imagery (``unlabelled_bn="batch"``,
the library default)."""

UNLABELLED_BN_UPDATED = " +unlabelled (BN updated)"
"""Label suffix of the first label-free runs: the unlabelled batches also updated the student's
BatchNorm running statistics (``unlabelled_bn="update"``, the only behaviour before the option
existed; those records carry the label ``hicd +unlabelled`` and the hash mark ``u``)."""

UNLABELLED_MODES = {UNLABELLED: ("ub", "batch"), UNLABELLED_BN_UPDATED: ("u", "update")}
"""Suffix → (hash mark, the student's ``unlabelled_bn``)."""


def _suffix(label: str) -> str | None:
    return next((s for s in UNLABELLED_MODES if label.endswith(s)), None)


def base_label(label: str) -> str:
    """The configuration label without its unlabelled-data suffix."""
    suffix = _suffix(label)
    return label if suffix is None else label.removesuffix(suffix)


def uses_unlabelled(label: str) -> bool:
    return _suffix(label) is not None


def unlabelled_bn(label: str) -> str:
    """The student's ``unlabelled_bn`` for ``label`` (the default without unlabelled data)."""
    suffix = _suffix(label)
    return "batch" if suffix is None else UNLABELLED_MODES[suffix][1]


def resolve(label: str) -> DistillationConfig:
    return DistillationConfig(**CONFIGS[base_label(label)])


def label_hash(label: str) -> str:
    """The hash records are matched by: the configuration's, marked with unlabelled data
    (``ub``; ``u`` for the runs whose unlabelled batches updated the BatchNorm statistics)."""
    suffix = _suffix(label)
    return config_hash(resolve(label)) + ("" if suffix is None else UNLABELLED_MODES[suffix][0])


def labels() -> list[str]:
    """Every label a record can carry (each configuration, with and without unlabelled data)."""
    return [
        *CONFIGS,
        *(label + suffix for suffix in UNLABELLED_MODES for label in CONFIGS if label != "none"),
    ]


def config_hash(config: DistillationConfig) -> str:
    """A short hash of every option of the configuration (records are matched by it)."""
    text = json.dumps(dataclasses.asdict(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclasses.dataclass(frozen=True)
class Budget:
    """Training and validation budget shared by teachers and students."""

    teacher_steps: int = 300
    val_every: int = 25
    crop: int = 128
    batch: int = 8
    teacher_lr: float = 1e-3
    ema_decay: float | None = 0.98
    eval_tile: int = 256
    eval_overlap: int = 64
    """Validation and scoring windows' overlap, fixed here so the records stay comparable
    whatever the library's default overlap (a quarter of the tile when the study began)."""


@dataclasses.dataclass(frozen=True)
class Regime:
    """How students start and train: from the ImageNet backbone (``scratch``, the paper's
    protocol, the teacher's budget) or from the teacher's weights (``finetune``)."""

    from_teacher: bool
    steps: int
    lr: float
    lr_warmup: int


BUDGETS = {
    "cpu": Budget(),
    # the GPU plan: longer, paper-like training on 256² crops (benchmarks/study/gpu.sh)
    "gpu": Budget(teacher_steps=2000, val_every=100, crop=256, batch=16),
}
REGIMES: dict[str, dict[str, Regime]] = {
    "cpu": {
        "scratch": Regime(from_teacher=False, steps=300, lr=1e-3, lr_warmup=20),
        "finetune": Regime(from_teacher=True, steps=150, lr=5e-4, lr_warmup=10),
    },
    "gpu": {
        "scratch": Regime(from_teacher=False, steps=2000, lr=1e-3, lr_warmup=100),
        "finetune": Regime(from_teacher=True, steps=1000, lr=5e-4, lr_warmup=50),
    },
}
RECIPES = ("scratch", "finetune")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One step of the plan: every fold of ``dataset`` × seed × recipe × label."""

    phase: str
    dataset: str
    setting: str
    labels: tuple[str, ...]
    seeds: tuple[int, ...]
    recipes: tuple[str, ...] = RECIPES
    folds: tuple[str, ...] | None = None
    """Only these folds (None: every fold; the quick smoke test takes one)."""


CORE = ("none", "hicd")
PLAN: tuple[Entry, ...] = (
    Entry("core", "levir", "multi-x4", CORE, (0, 1)),
    Entry("core seed 2", "levir", "multi-x4", CORE, (2,)),
    Entry("candidates", "levir", "multi-x4", CANDIDATES[1:], (0, 1)),
    Entry("chosen seed 2", "levir", "multi-x4", (CHOSEN,), (2,)),
    Entry("label-free", "levir", "multi-x4", ("hicd" + UNLABELLED,), (0, 1)),
    Entry("baselines", "levir", "multi-x4", BASELINES, (0, 1)),
    Entry("resolution", "levir", "resolution-x4", (*CORE, CHOSEN), (0, 1)),
    Entry("sztaki", "sztaki", "multi-x4", (*CORE, CHOSEN), (0, 1)),
)
"""The study's plan, in order (fixed before any run; not extended after looking)."""

CHOICE_SEEDS = (0, 1)
"""Seeds whose mean validation F1 (over all folds) chooses the variant."""
