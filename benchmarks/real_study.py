"""The real-data study: does a distilled student beat one trained without distillation?

Two real datasets from ``../shared/data``, each with its own teachers:

* ``levir`` (LEVIR-CD, 0.5 m, buildings). Training and validation: the five 1024² tiles of
  ``levir-cd-1024`` and ``levir-cd-1024-extra``, each cut into 16 blocks of 256²; in every tile
  the 4 blocks on one diagonal (row + column + tile index ≡ 0 mod 4) are held back for
  validation (20 blocks, 1.3 Mpx), the other 12 train (60 blocks). Test: the 9 crops of
  ``levir-cd-256`` that lie outside those tiles (``test_2_*`` ×2, ``test_55_*``, ``test_77_*``,
  ``test_121_*``, ``train_*`` ×3, ``val_*``).
* ``sztaki`` (SZTAKI AirChange, 1.5 m aerial, new built-up areas). Test: the two files of the
  benchmark's usual test pair, ``Szada_1`` and ``Tiszadob_3``, never cut. The other 11 files are
  cut into a 2 × 4 grid of blocks; in every file the 2 blocks with row + column + file index ≡ 0
  mod 4 are held back for validation (22 blocks, 1.7 Mpx), the other 6 train (66 blocks).

Per dataset and seed: a teacher (siam_fpn, ImageNet MobileNetV2 from ``../shared/weights``, 64
decoder channels) on clean 128² crops; then per setting (t2 degraded on the fly) and
distillation configuration a student that starts from that teacher's weights. Every model keeps
an exponential moving average of its weights (Lightning's ``EMAWeightAveraging``) and the
checkpoint with the best validation F1 (EMA weights, validation every ``--val-every`` steps).
The students of one seed share the teacher, the data order and the training degradations
(common random numbers), so ``F1(method) − F1(none)`` per seed is a paired difference.

Each chosen checkpoint is scored by ``hicd.evaluation.evaluate_checkpoints`` (native resolution,
one confusion matrix, deterministic degradation seed 0) on the validation blocks and on the
test images, with the confusion counts of every 256-pixel cell for bootstrap intervals. Runs
are cached under ``--out`` by dataset, setting, configuration (with a hash of its resolved
options) and seed, so the study resumes where it stopped and later plans reuse earlier runs.

    .venv/bin/python -m benchmarks.real_study --plan ablation --out /tmp/hicd-study
    .venv/bin/python -m benchmarks.real_study --plan final --out /tmp/hicd-study
    .venv/bin/python -m benchmarks.real_study --report --out /tmp/hicd-study   # tables only
    .venv/bin/python -m benchmarks.real_study --report --datasets levir --regime finetune \
        --configs none,F --seeds 0,1,2,3,4 --out /tmp/hicd-study         # the matching runs only
    .venv/bin/python -m benchmarks.real_study --quick --out /tmp/hicd-smoke    # a few minutes

The earlier study (a fixed split, one test set of 9 crops). Its successor, with leave-one-tile-out
folds and committed records, is ``python -m benchmarks.study`` (benchmarks/study).

The ``universal`` plan (LEVIR-CD, seeds 0 to 4, seed by seed) trains per seed the specialists
``none`` and ``F`` at ``resolution-x4`` and at ``multi-x4`` and the universal students ``none``
and ``F`` on ``mixed`` (``finetune``, 150 steps), then the universal students again with 300
steps (``finetune-long``: the budget of the two specialists together), and scores every model
(teacher included) on the robustness grid ``hicd.degradations.GRID``; its report compares them
over the grid::

    .venv/bin/python -m benchmarks.real_study --plan universal --out /tmp/hicd-study
    .venv/bin/python -m benchmarks.real_study --plan universal --report --out /tmp/hicd-study
    .venv/bin/python -m benchmarks.real_study --plan universal --quick --out /tmp/hicd-smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from PIL import Image

from benchmarks.study.configs import Regime
from benchmarks.study.folds import link_pair, shared_data_dir
from hicd.atomic import write_text_atomic
from hicd.degradations import GRID
from hicd.distillation import DistillationConfig
from hicd.distillation.config import PRESETS
from hicd.evaluation import evaluate_checkpoints
from hicd.evaluation.statistics import bootstrap_f1, t_interval
from hicd.models.losses import TaskLossConfig
from hicd.models.pretrained import MOBILENET_V2_FILE, shared_weights_dir
from hicd.training.config import NetworkConfig, OptimConfig
from hicd.training.data import ChangeDataModule
from hicd.training.runs import fit_best, fit_student
from hicd.training.teacher import TeacherModule

SHARED = shared_data_dir().parent
WEIGHTS = shared_weights_dir() / MOBILENET_V2_FILE
CELL = 256
"""Side of the evaluation cells resampled by the bootstrap."""

# -- datasets ---------------------------------------------------------------------------------


def _blocks(source: Path, name: str, rows: int, cols: int) -> Iterable[tuple[int, int, dict]]:
    """(row, column, {folder: block array}) of a rows × cols grid over one pair."""
    arrays = {f: np.asarray(Image.open(source / f / name)) for f in ("A", "B", "label")}
    height, width = arrays["label"].shape[:2]
    for r in range(rows):
        for c in range(cols):
            top, bottom = r * height // rows, (r + 1) * height // rows
            left, right = c * width // cols, (c + 1) * width // cols
            yield r, c, {f: a[top:bottom, left:right] for f, a in arrays.items()}


def _write_blocks(
    root: Path, source: Path, name: str, index: int, grid: tuple[int, int], splits: dict
) -> None:
    stem = Path(name).stem
    for r, c, parts in _blocks(source, name, *grid):
        block = f"{stem}_r{r}c{c}.png"
        for folder, array in parts.items():
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(root / folder / block)
        splits["val" if (r + c + index) % 4 == 0 else "train"].append(block)


def _finish(root: Path, splits: dict[str, list[str]]) -> Path:
    (root / "list").mkdir(parents=True, exist_ok=True)
    for split, names in splits.items():
        write_text_atomic(root / "list" / f"{split}.txt", "".join(f"{n}\n" for n in names))
    return root


def build_levir(root: Path) -> Path:
    """LEVIR-CD: 60 training and 20 validation blocks of five tiles, 9 test crops outside them."""
    splits: dict[str, list[str]] = defaultdict(list)
    tiles = [
        ("levir-cd-1024", "test_7.png"),
        ("levir-cd-1024", "test_102.png"),
        ("levir-cd-1024-extra", "test_1.png"),
        ("levir-cd-1024-extra", "test_3.png"),
        ("levir-cd-1024-extra", "test_4.png"),
    ]
    for index, (folder, name) in enumerate(tiles):
        _write_blocks(root, SHARED / "data" / folder, name, index, (4, 4), splits)
    crops = SHARED / "data" / "levir-cd-256"
    for image in sorted((crops / "A").glob("*.png")):
        if not image.name.startswith(("test_7_", "test_102_")):  # those lie inside the tiles
            link_pair(root, crops, image.name)
            splits["test"].append(image.name)
    return _finish(root, splits)


SZTAKI_TEST = ("Szada_1.png", "Tiszadob_3.png")


def build_sztaki(root: Path) -> Path:
    """SZTAKI AirChange: Szada_1 and Tiszadob_3 for test; 66 training and 22 validation blocks
    of the other 11 files."""
    source = SHARED / "data" / "sztaki-airchange"
    splits: dict[str, list[str]] = defaultdict(list)
    others = [p.name for p in sorted((source / "A").glob("*.png")) if p.name not in SZTAKI_TEST]
    for index, name in enumerate(others):
        _write_blocks(root, source, name, index, (2, 4), splits)
    for name in SZTAKI_TEST:
        link_pair(root, source, name)
        splits["test"].append(name)
    return _finish(root, splits)


DATASETS: dict[str, Callable[[Path], Path]] = {"levir": build_levir, "sztaki": build_sztaki}


def dataset_root(out: Path, name: str) -> Path:
    root = out / "data" / name
    if not (root / "list" / "test.txt").is_file():
        DATASETS[name](root)
    return root


# -- configurations ---------------------------------------------------------------------------

PROVISIONAL: dict[str, Any] = {
    "method": "hicd",
    "centered": True,
    "teacher_bn": "batch",
    "reduction": "mean",
    "sfd_levels": [1, 2, 3],
    "cfd_levels": None,
    "lambda_sfd": 1.0,
    "lambda_cfd": 1.0,
    "use_sfd": True,
    "use_cfd": True,
    "use_self": True,
    "use_cross": True,
    "use_global": True,
    "w_self": 1.0,
    "w_cross": 1.0,
    "w_global": 1.0,
    "warmup_steps": 0,
    "recalibrate_batches": 32,
}
"""The configuration the ablation varies one option at a time (fixed, so its runs stay valid
whatever the library defaults become)."""


FINETUNE_CHOICE = PROVISIONAL | {"sfd_levels": None}
"""The ablation's choice (highest mean validation F1): ``P`` with SFD on every encoder level
(= ``PRESETS["hicd-finetune"]``, a test keeps them equal)."""


def _lambdas(factor: float) -> dict[str, float]:
    return {
        "lambda_sfd": PROVISIONAL["lambda_sfd"] * factor,
        "lambda_cfd": PROVISIONAL["lambda_cfd"] * factor,
    }


CONFIGS: dict[str, dict[str, Any]] = {
    "none": {"method": "none"},
    "feature": {"method": "feature"},
    "logit": {"method": "logit"},
    "hicd-v1": PRESETS["hicd-v1"],
    "hicd": {"method": "hicd"},  # the library defaults
    "P": PROVISIONAL,
    "P uncentred": PROVISIONAL | {"centered": False},
    "P bn-running": PROVISIONAL | {"teacher_bn": "running"},
    "P bn-recalibrate": PROVISIONAL | {"teacher_bn": "recalibrate"},
    "P sfd-all-levels": PROVISIONAL | {"sfd_levels": None},
    "P no-cfd": PROVISIONAL | {"use_cfd": False},
    "P no-global": PROVISIONAL | {"use_global": False},
    "P λ×0.3": PROVISIONAL | _lambdas(0.3),
    "P λ×3": PROVISIONAL | _lambdas(3.0),
    "F": FINETUNE_CHOICE,
    "F λ×0.3": FINETUNE_CHOICE | _lambdas(0.3),
    "F λ×0.1": FINETUNE_CHOICE | _lambdas(0.1),
    "F warm-up": FINETUNE_CHOICE | {"warmup_steps": 150},
}
"""Label → options of ``DistillationConfig`` (the rest at the library defaults)."""

ABLATION = [name for name in CONFIGS if name.startswith("P")]

BOTH = ["resolution-x4", "multi-x4"]
SEEDS5 = [0, 1, 2, 3, 4]
SCRATCH = ["none", "F", "F λ×0.3", "F λ×0.1", "F warm-up"]
PLANS: dict[str, list[tuple[str, list[str], list[str], list[str], list[int]]]] = {
    # (regime, datasets, settings, configurations, seeds)
    "ablation": [("finetune", ["levir"], ["multi-x4"], ["none", *ABLATION], [0, 1, 2])],
    "scratch": [("scratch", ["levir"], ["multi-x4"], SCRATCH, [0, 1, 2])],
    "final": [  # in order of priority: a stopped run keeps what finished
        ("finetune", ["levir"], ["multi-x4"], ["none", "F"], SEEDS5),
        ("finetune", ["levir"], ["resolution-x4"], ["none", "F"], SEEDS5),
        ("finetune", ["sztaki"], ["multi-x4"], ["none", "F"], SEEDS5),
        ("finetune", ["sztaki"], ["resolution-x4"], ["none", "F"], SEEDS5),
        ("finetune", ["levir", "sztaki"], BOTH, ["feature", "logit", "hicd-v1"], [0, 1, 2]),
    ],
    # entries seed by seed, so every model of seed 0 finishes first, then seed 1, ...
    "universal": [
        entry
        for seed in SEEDS5
        for entry in (
            ("finetune", ["levir"], [*BOTH, "mixed"], ["none", "F"], [seed]),
            ("finetune-long", ["levir"], ["mixed"], ["none", "F"], [seed]),
        )
    ],
}
PLAN_SCORES: dict[str, list[str]] = {"universal": list(GRID)}
"""Settings every model of a plan is scored on besides its own (cached runs are scored on the
ones they lack)."""


def resolve(label: str) -> DistillationConfig:
    return DistillationConfig(**CONFIGS[label])


TEACHER_OPTIONS = ("teacher_bn", "recalibrate_batches", "warmup_steps", "lambda_kd")
RELEVANT: dict[str, tuple[str, ...]] = {
    "none": ("method", "dice_weight", "ignore_index"),
    "feature": ("use_sfd", "use_cfd", "sfd_levels", "cfd_levels", *TEACHER_OPTIONS),
    "logit": ("temperature", *TEACHER_OPTIONS),
}
"""Options that change a method's training (besides those of ``none``); ``hicd``: all but the
baselines' ``temperature`` and ``lambda_kd``."""


def config_key(config: DistillationConfig) -> str:
    """A short hash of the options that matter for the method: runs are cached under it, so
    changing an unrelated default (say a hicd weight) keeps the baselines' runs. The study
    trains with the default task loss, whose options stay in the key (as before they moved out
    of ``DistillationConfig``), so cached runs keep their keys."""
    options = dataclasses.asdict(config) | dataclasses.asdict(TaskLossConfig())
    if config.method == "hicd":
        keep = [k for k in options if k not in ("temperature", "lambda_kd")]
    else:
        keep = [*RELEVANT["none"], *RELEVANT.get(config.method, ())]
    text = json.dumps({k: options[k] for k in keep}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


# -- runs -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Budget:
    teacher_steps: int = 300
    val_every: int = 25
    crop: int = 128
    batch: int = 8
    teacher_lr: float = 1e-3
    ema_decay: float | None = 0.98


REGIMES = {
    "finetune": Regime(from_teacher=True, steps=150, lr=5e-4, lr_warmup=10),
    # twice the steps: the budget of the two specialists a universal student replaces
    "finetune-long": Regime(from_teacher=True, steps=300, lr=5e-4, lr_warmup=10),
    "scratch": Regime(from_teacher=False, steps=300, lr=1e-3, lr_warmup=20),
}


def _data(root: Path, budget: Budget) -> ChangeDataModule:
    return ChangeDataModule(
        kind="generic",
        root=str(root),
        crop_size=budget.crop,
        batch_size=budget.batch,
        num_workers=0,
        eval_tile=256,
        cache_images=True,
    )


def _score(checkpoint: Path, root: Path, settings: list[str]) -> dict[str, dict]:
    """Validation and test rows (with cells) of one checkpoint under each setting."""
    scores: dict[str, dict] = {}
    for split in ("val", "test"):
        rows = evaluate_checkpoints(
            [checkpoint], root, split=split, settings=",".join(settings), tile=256,
            seed=0, examples=0, progress=False, cell=CELL,
        )  # fmt: skip
        scores[split] = {row["setting"]: row for row in rows}
    return scores


def _save(path: Path, record: dict) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record))
    return record


def _complete(record: dict, result: Path, out: Path, dataset: str, settings: list[str]) -> dict:
    """A cached run's record, scored on the ``settings`` it lacks (and saved again)."""
    missing = [s for s in dict.fromkeys(settings) if s not in record["test"]]
    if not missing:
        return record
    scores = _score(Path(record["checkpoint"]), dataset_root(out, dataset), missing)
    for split in ("val", "test"):
        record[split] |= scores[split]
    return _save(result, record)


def teacher_run(out: Path, dataset: str, seed: int, budget: Budget, settings: list[str]) -> dict:
    """Train (or load the cached result of) the teacher of ``dataset`` for ``seed``."""
    folder = out / "runs" / dataset / "teacher" / f"s{seed}"
    result = folder / "result.json"
    if result.is_file():
        record = json.loads(result.read_text())
        return _complete(record, result, out, dataset, ["clean", *settings])
    root = dataset_root(out, dataset)
    shutil.rmtree(folder, ignore_errors=True)  # what an interrupted run left
    started = time.perf_counter()
    pl.seed_everything(seed, workers=True, verbose=False)
    network = NetworkConfig(pretrained=str(WEIGHTS), options={"decoder_channels": 64})
    optim = OptimConfig(lr=budget.teacher_lr, schedule="cosine", warmup_steps=20)
    module = TeacherModule(network=network, optim=optim, crop_size=budget.crop, eval_tile=256)
    checkpoint = fit_best(
        module, _data(root, budget), budget.teacher_steps, folder, budget.val_every, False,
        budget.ema_decay,
    )  # fmt: skip
    record = {
        "dataset": dataset, "role": "teacher", "seed": seed, "checkpoint": str(checkpoint),
        "seconds": time.perf_counter() - started, "budget": dataclasses.asdict(budget),
        **_score(checkpoint, root, ["clean", *settings]),
    }  # fmt: skip
    return _save(result, record)


def student_run(
    out: Path,
    regime: tuple[str, Regime],
    dataset: str,
    setting: str,
    label: str,
    seed: int,
    budget: Budget,
    teacher: dict,
    scored: Iterable[str] = (),
) -> dict:
    """Train (or load the cached result of) one student; score it on ``setting`` and ``scored``."""
    config = resolve(label)
    key = config_key(config)
    name, plan = regime
    folder = out / "runs" / dataset / setting / name / key / f"s{seed}"
    result = folder / "result.json"
    wanted = list(dict.fromkeys([setting, *scored]))
    if result.is_file():
        return _complete(json.loads(result.read_text()), result, out, dataset, wanted)
    root = dataset_root(out, dataset)
    shutil.rmtree(folder, ignore_errors=True)  # what an interrupted run left
    started = time.perf_counter()
    optim = OptimConfig(lr=plan.lr, schedule="cosine", warmup_steps=plan.lr_warmup)
    checkpoint = fit_student(
        Path(teacher["checkpoint"]), config, setting, _data(root, budget), optim,
        plan.steps, folder, seed=seed + 1, init_from_teacher=plan.from_teacher,
        crop_size=budget.crop, eval_tile=256, val_every=budget.val_every, progress=False,
        ema_decay=budget.ema_decay,
    )  # fmt: skip
    record = {
        "dataset": dataset, "role": "student", "regime": name, "setting": setting,
        "label": label, "key": key, "config": dataclasses.asdict(config), "seed": seed,
        "checkpoint": str(checkpoint), "seconds": time.perf_counter() - started,
        "budget": dataclasses.asdict(budget), "regime_budget": dataclasses.asdict(plan),
        **_score(checkpoint, root, wanted),
    }  # fmt: skip
    return _save(result, record)


def run_plan(
    out: Path,
    plan: list,
    budget: Budget,
    regimes: dict[str, Regime] = REGIMES,
    scored: list[str] | None = None,
) -> None:
    """Train (or load) every run of ``plan``; each model is also scored on ``scored``."""
    started = time.perf_counter()
    scored = scored or []
    for regime, datasets, settings, labels, seeds in plan:
        for dataset in datasets:
            for seed in seeds:
                teacher = teacher_run(out, dataset, seed, budget, [*settings, *scored])
                for setting in settings:
                    for label in labels:
                        record = student_run(
                            out, (regime, regimes[regime]), dataset, setting, label, seed,
                            budget, teacher, scored,
                        )  # fmt: skip
                        print(
                            f"{time.perf_counter() - started:7.0f} s  {regime} {dataset} {setting} "
                            f"{label} s{seed}: val F1 {100 * record['val'][setting]['f1']:.2f}, "
                            f"test F1 {100 * record['test'][setting]['f1']:.2f} "
                            f"({record['seconds']:.0f} s)",
                            flush=True,
                        )


# -- report -----------------------------------------------------------------------------------


def load_runs(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "runs").glob("**/result.json"))]


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _interval(low: float, high: float) -> str:
    return "–" if np.isnan(low) else f"[{100 * low:+.2f}, {100 * high:+.2f}]"


def _by_seed(runs: list[dict]) -> dict[int, dict]:
    return {run["seed"]: run for run in runs}


def summary_rows(
    runs: list[dict], dataset: str, regime: str, setting: str, split: str
) -> list[str]:
    """Markdown rows: every configuration on one dataset, regime and setting, and its paired
    difference to ``none`` (seeds both have)."""
    students = [r for r in runs if r["role"] == "student" and r["dataset"] == dataset]
    students = [r for r in students if r["setting"] == setting and r["regime"] == regime]
    groups: dict[str, list[dict]] = defaultdict(list)
    for run in students:
        groups[run["key"]].append(run)
    none = _by_seed(groups.get(config_key(resolve("none")), []))
    lines = []
    labels: dict[str, list[str]] = defaultdict(list)
    for label in CONFIGS:
        labels[config_key(resolve(label))].append(label)
    for key, group in sorted(
        groups.items(), key=lambda item: min(map(_order, labels.get(item[0], [""])))
    ):
        group.sort(key=lambda r: r["seed"])
        scores = [r[split][setting] for r in group]
        f1s = [s["f1"] for s in scores]
        _, low, high = bootstrap_f1([s["cells"] for s in scores])
        row = (
            f"| {_label(labels, key, group)} | {len(group)} | {_pct(statistics.mean(f1s))} ± "
            f"{_pct(statistics.stdev(f1s)) if len(f1s) > 1 else '–'} | "
            f"[{_pct(low)}, {_pct(high)}] | "
            f"{_pct(statistics.mean(s['iou'] for s in scores))} |"
        )
        paired = [s for s in group if s["seed"] in none]
        if key != config_key(resolve("none")) and len(paired) > 1:
            diffs = [
                r[split][setting]["f1"] - none[r["seed"]][split][setting]["f1"] for r in paired
            ]
            mean, t_low, t_high = t_interval(diffs)
            _, b_low, b_high = bootstrap_f1(
                [r[split][setting]["cells"] for r in paired],
                [none[r["seed"]][split][setting]["cells"] for r in paired],
            )
            wins = sum(d > 0 for d in diffs)
            row += (
                f" {100 * mean:+.2f} | {_interval(t_low, t_high)} | {_interval(b_low, b_high)} | "
                f"{wins}/{len(diffs)} | {' '.join(f'{100 * d:+.1f}' for d in diffs)} |"
            )
        else:
            row += " | | | | |"
        lines.append(row)
    return lines


def _order(label: str) -> tuple[int, str]:
    order = ["none", "feature", "logit", "hicd-v1", "hicd"]
    return (order.index(label) if label in order else len(order), label)


def _label(labels: dict[str, list[str]], key: str, group: list[dict]) -> str:
    """Every name of the configuration: the runs' own and those of ``CONFIGS`` with its key."""
    names = sorted({r["label"] for r in group} | set(labels.get(key, [])), key=_order)
    return " = ".join(f"`{n}`" for n in names)


def teacher_rows(runs: list[dict], dataset: str, settings: list[str], split: str) -> list[str]:
    teachers = [r for r in runs if r["role"] == "teacher" and r["dataset"] == dataset]
    lines = []
    for setting in ["clean", *settings]:
        scores = [r[split][setting] for r in teachers if setting in r[split]]
        if not scores:
            continue
        f1s = [s["f1"] for s in scores]
        _, low, high = bootstrap_f1([s["cells"] for s in scores])
        spread = _pct(statistics.stdev(f1s)) if len(f1s) > 1 else "–"
        lines.append(
            f"| teacher on {setting} | {len(f1s)} | {_pct(statistics.mean(f1s))} ± {spread} | "
            f"[{_pct(low)}, {_pct(high)}] | {_pct(statistics.mean(s['iou'] for s in scores))} "
            "| | | | | |"
        )
    return lines


HEADER = [
    "| model | seeds | F1 mean ± std | F1 95 % bootstrap (cells) | IoU mean | "
    "F1 − none (paired) | 95 % t-interval (seeds) | 95 % bootstrap (cells) | wins | per seed |",
    "|:---|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
]


def select(
    runs: list[dict],
    datasets: list[str] | None = None,
    settings: list[str] | None = None,
    regimes: list[str] | None = None,
    labels: list[str] | None = None,
    seeds: list[int] | None = None,
) -> list[dict]:
    """The runs (teachers included) that match every filter given."""
    keys = None if labels is None else {config_key(resolve(label)) for label in labels}

    def keep(run: dict) -> bool:
        if datasets is not None and run["dataset"] not in datasets:
            return False
        if seeds is not None and run["seed"] not in seeds:
            return False
        if run["role"] == "teacher":
            return True
        return (
            (settings is None or run["setting"] in settings)
            and (regimes is None or run["regime"] in regimes)
            and (keys is None or run["key"] in keys)
        )

    return [run for run in runs if keep(run)]


def report(out: Path, runs: list[dict] | None = None) -> str:
    """Every table of ``runs`` (default: all cached runs); also written to ``out/report.md``
    when all runs are reported."""
    everything = runs is None
    runs = load_runs(out) if runs is None else runs
    lines = [f"Runs: {len(runs)}, training time {sum(r['seconds'] for r in runs) / 3600:.2f} h "
             "(sum over runs).", ""]  # fmt: skip
    for dataset in sorted({r["dataset"] for r in runs}):
        settings = sorted(
            {r["setting"] for r in runs if r["dataset"] == dataset and "setting" in r}
        )
        regimes = sorted({r["regime"] for r in runs if r["dataset"] == dataset and "regime" in r})
        for regime in regimes:
            for split in ("test", "val"):
                for setting in settings:
                    rows = summary_rows(runs, dataset, regime, setting, split)
                    if not rows:
                        continue
                    lines += [f"### {dataset}, {regime}, {setting}, {split}", "", *HEADER]
                    lines += teacher_rows(runs, dataset, [setting], split)
                    lines += rows
                    lines.append("")
    text = "\n".join(lines)
    if everything:
        write_text_atomic(out / "report.md", text)
    return text


UNIVERSAL_MODELS: list[tuple[str, str, str, str]] = [
    # (name in the tables, regime, setting trained on, configuration); the teacher comes first
    ("none resolution-x4", "finetune", "resolution-x4", "none"),
    ("F resolution-x4", "finetune", "resolution-x4", "F"),
    ("none multi-x4", "finetune", "multi-x4", "none"),
    ("F multi-x4", "finetune", "multi-x4", "F"),
    ("universal none", "finetune", "mixed", "none"),
    ("universal F", "finetune", "mixed", "F"),
    ("universal none, 300 steps", "finetune-long", "mixed", "none"),
    ("universal F, 300 steps", "finetune-long", "mixed", "F"),
]
"""The models of the ``universal`` plan: specialists and universal students (150 fine-tuning
steps like the specialists, or 300: the two specialists' budget together)."""

UNIVERSAL_PAIRS = [
    ("universal F", "universal none"),
    ("universal F, 300 steps", "universal none, 300 steps"),
]
"""Each universal ``F`` student and the ``none`` student it is compared with."""


def universal_models(runs: list[dict], dataset: str = "levir") -> dict[str, dict[int, dict]]:
    """Model name -> seed -> run, for the teacher and every model of ``UNIVERSAL_MODELS``."""
    models = {
        "teacher": {
            r["seed"]: r for r in runs if r["role"] == "teacher" and r["dataset"] == dataset
        }
    }
    for name, regime, setting, label in UNIVERSAL_MODELS:
        key = config_key(resolve(label))
        models[name] = {
            r["seed"]: r
            for r in runs
            if r["role"] == "student" and r["dataset"] == dataset and r["regime"] == regime
            and r["setting"] == setting and r["key"] == key
        }  # fmt: skip
    return models


def _grid_mean(run: dict, split: str, grid: list[str]) -> float | None:
    """Mean F1 of one run over the grid (None when it lacks a setting of it)."""
    scores = run[split]
    if not all(setting in scores for setting in grid):
        return None
    return statistics.mean(scores[setting]["f1"] for setting in grid)


def _f1s(by_seed: dict[int, dict], split: str, setting: str) -> dict[int, float]:
    """Seed -> F1 of one model on one setting (seeds not scored on it left out)."""
    return {seed: r[split][setting]["f1"] for seed, r in by_seed.items() if setting in r[split]}


def _paired_row(title: str, first: dict[int, float], second: dict[int, float]) -> str:
    seeds = sorted(set(first) & set(second))
    if not seeds:
        return f"| {title} | 0 | | | | |"
    diffs = [first[seed] - second[seed] for seed in seeds]
    mean, low, high = t_interval(diffs)
    per_seed = " ".join(f"s{seed} {100 * d:+.2f}" for seed, d in zip(seeds, diffs, strict=True))
    wins = sum(d > 0 for d in diffs)
    return (
        f"| {title} | {len(seeds)} | {100 * mean:+.2f} | {_interval(low, high)} | "
        f"{wins}/{len(diffs)} | {per_seed} |"
    )


def universal_report(runs: list[dict], grid: list[str] | None = None) -> str:
    """The ``universal`` plan's tables per split: F1 per model × grid setting with each model's
    grid mean (mean ± std over seeds), and the paired differences over seeds of each universal
    F − each specialist (grid mean and the specialist's own setting), universal F − universal
    none (grid mean), and 300 − 150 steps."""
    grid = list(GRID) if grid is None else grid
    models = universal_models(runs)
    lines = [
        f"Universal plan (levir, fine-tuned students): grid of {len(grid)} settings; F1 in %, "
        "mean over seeds.",
        "",
    ]
    for split in ("test", "val"):
        means = {
            name: {
                seed: value
                for seed, run in by_seed.items()
                if (value := _grid_mean(run, split, grid)) is not None
            }
            for name, by_seed in models.items()
        }
        lines += [
            f"### Universal students, {split}: F1 per model and setting",
            "",
            "| model | seeds | grid mean ± std (seeds) | " + " | ".join(grid) + " |",
            "|:---|---:|---:|" + "---:|" * len(grid),
        ]
        for name, by_seed in models.items():
            if not by_seed:
                continue
            values = list(means[name].values())
            spread = _pct(statistics.stdev(values)) if len(values) > 1 else "–"
            summary = f"{_pct(statistics.mean(values))} ± {spread}" if values else "–"
            cells = []
            for setting in grid:
                f1s = _f1s(by_seed, split, setting).values()
                cells.append(_pct(statistics.mean(f1s)) if f1s else "–")
            lines.append(f"| {name} | {len(by_seed)} | {summary} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"### Universal students, {split}: paired differences of F1 (percentage points)",
            "",
            "| difference | seeds | mean | 95 % t-interval (seeds) | wins | per seed |",
            "|:---|---:|---:|---:|---:|:---|",
        ]
        for universal, baseline in UNIVERSAL_PAIRS:
            if not models[universal]:
                continue
            for name, _, setting, _ in UNIVERSAL_MODELS[:4]:
                lines.append(
                    _paired_row(f"{universal} − {name}, grid mean", means[universal], means[name])
                )
                own = [_f1s(models[model], split, setting) for model in (universal, name)]
                lines.append(_paired_row(f"{universal} − {name}, on {setting}", *own))
            lines.append(
                _paired_row(
                    f"{universal} − {baseline}, grid mean", means[universal], means[baseline]
                )
            )
        for long, short in zip(UNIVERSAL_PAIRS[1], UNIVERSAL_PAIRS[0], strict=True):
            if models[long]:
                lines.append(_paired_row(f"{long} − {short}, grid mean", means[long], means[short]))
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/hicd-study"))
    parser.add_argument(
        "--plan", choices=sorted(PLANS), help="what to train (cached runs are kept)"
    )
    parser.add_argument("--datasets", help="comma-separated (instead of --plan)")
    parser.add_argument("--settings", help="comma-separated (default: resolution-x4,multi-x4)")
    parser.add_argument("--configs", help="comma-separated labels of CONFIGS")
    parser.add_argument("--seeds", help="comma-separated (default: 0,1,2)")
    parser.add_argument("--regime", choices=sorted(REGIMES), help="(default: finetune)")
    parser.add_argument(
        "--report",
        action="store_true",
        help="only print the tables (of the runs matching --datasets, --settings, --configs, "
        "--seeds and --regime where given)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few steps: 1 seed, both datasets; with --plan, that plan's first seed (and 4 "
        "settings of the grid for the universal plan)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    def split(text: str | None) -> list[str] | None:
        return text.split(",") if text else None

    seeds = [int(seed) for seed in split(args.seeds) or []] or None
    grid = list(GRID)
    if args.quick and args.plan:  # the smoke test of a plan: a few settings of the grid
        grid = ["clean", "resolution-x4", "multi-x4", "resolution-x4@t1"]
    if args.report and args.plan == "universal":
        text = universal_report(load_runs(args.out), grid)
        write_text_atomic(args.out / "report-universal.md", text)
        print(text)
        return
    if args.report:
        runs = select(
            load_runs(args.out), split(args.datasets), split(args.settings),
            [args.regime] if args.regime else None, split(args.configs), seeds,
        )  # fmt: skip
        print(report(args.out, runs))
        return
    budget, regimes, regime = Budget(), REGIMES, args.regime or "finetune"
    scored = grid if args.plan in PLAN_SCORES else []
    if args.quick:
        budget = Budget(teacher_steps=4, val_every=4)
        regimes = {name: dataclasses.replace(r, steps=4) for name, r in REGIMES.items()}
        plan = [(regime, list(DATASETS), ["multi-x4"], ["none", "hicd"], [0])]
        if args.plan:  # the plan's runs, first seed only
            first = PLANS[args.plan][0][4][0]
            plan = [(*entry[:4], [first]) for entry in PLANS[args.plan] if first in entry[4]]
    elif args.plan:
        plan = PLANS[args.plan]
    elif args.datasets and args.configs:
        settings = split(args.settings) or ["resolution-x4", "multi-x4"]
        plan = [(regime, split(args.datasets), settings, split(args.configs), seeds or [0, 1, 2])]
    else:
        plan = []
    started = time.perf_counter()
    if plan:
        run_plan(args.out, plan, budget, regimes, scored)
        print(f"plan done in {time.perf_counter() - started:.0f} s", flush=True)
    if args.plan == "universal":
        text = universal_report(load_runs(args.out), grid)
        write_text_atomic(args.out / "report-universal.md", text)
        print(text)
        return
    print(report(args.out))


if __name__ == "__main__":
    main()
