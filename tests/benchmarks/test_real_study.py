"""The real-data study's configurations stay tied to the library's (no training here)."""

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

from hicd.degradations.settings import DegradationSetting
from hicd.distillation import DistillationConfig
from hicd.distillation.config import PRESETS


@pytest.fixture(scope="module")
def study():
    path = Path(__file__).parents[2] / "benchmarks" / "real_study.py"
    spec = importlib.util.spec_from_file_location("real_study", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_study"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["real_study"]


def test_finetune_choice_is_the_preset(study):
    assert study.resolve("F") == DistillationConfig(**PRESETS["hicd-finetune"])
    assert study.resolve("hicd-v1") == DistillationConfig(**PRESETS["hicd-v1"])
    assert study.resolve("hicd") == DistillationConfig()


def test_plans_name_known_configurations(study):
    for plan in study.PLANS.values():
        for regime, datasets, settings, labels, seeds in plan:
            assert regime in study.REGIMES
            assert set(datasets) <= set(study.DATASETS)
            assert set(labels) <= set(study.CONFIGS)
            for setting in settings:
                DegradationSetting.parse(setting)
            assert seeds


def test_cache_keys_ignore_other_methods_options(study):
    none = study.config_key(DistillationConfig(method="none"))
    assert none == study.config_key(DistillationConfig(method="none", lambda_sfd=3.0))
    hicd = study.config_key(DistillationConfig())
    assert hicd != study.config_key(DistillationConfig(lambda_sfd=3.0))
    assert hicd == study.config_key(DistillationConfig(temperature=2.0))


def test_select_filters_students_and_keeps_their_teachers(study):
    none, f = study.config_key(study.resolve("none")), study.config_key(study.resolve("F"))
    runs = [
        {"role": "teacher", "dataset": "levir", "seed": 0},
        {"role": "teacher", "dataset": "levir", "seed": 3},
        {"role": "teacher", "dataset": "sztaki", "seed": 0},
        *(
            {"role": "student", "dataset": "levir", "seed": seed, "setting": setting,
             "regime": "finetune", "key": key}
            for seed in (0, 3) for setting in ("multi-x4", "resolution-x4") for key in (none, f)
        ),
    ]  # fmt: skip
    chosen = study.select(runs, ["levir"], ["multi-x4"], ["finetune"], ["F"], [0])
    assert [(r["role"], r.get("key")) for r in chosen] == [("teacher", None), ("student", f)]
    assert study.select(runs) == runs


def test_universal_plan_runs_seed_by_seed_and_scores_the_grid(study):
    from hicd.degradations import GRID

    plan = study.PLANS["universal"]
    assert [entry[4] for entry in plan] == [[seed] for seed in range(5) for _ in range(2)]
    for index, (regime, datasets, settings, labels, _) in enumerate(plan):
        assert datasets == ["levir"] and labels == ["none", "F"]
        if index % 2:  # the universal students again, with twice the steps
            assert (regime, settings) == ("finetune-long", ["mixed"])
        else:
            assert (regime, settings) == ("finetune", ["resolution-x4", "multi-x4", "mixed"])
    long, short = study.REGIMES["finetune-long"], study.REGIMES["finetune"]
    assert long.steps == 2 * short.steps
    assert dataclasses.replace(long, steps=short.steps) == short
    assert study.PLAN_SCORES["universal"] == list(GRID)


def _run(study, role, seed, f1, setting=None, label=None, regime="finetune"):
    scores = {name: {"f1": f1 + 0.01 * (name == setting)} for name in [*GRID_NAMES, "mixed"]}
    run = {"role": role, "dataset": "levir", "seed": seed, "test": scores, "val": scores}
    if role == "student":
        key = study.config_key(study.resolve(label))
        run |= {"regime": regime, "setting": setting, "key": key, "label": label}
    return run


GRID_NAMES = ["clean", "resolution-x4", "multi-x4", "resolution-x4@t1"]


def test_universal_report_tables_and_paired_differences(study):
    runs = []
    for seed in (0, 1, 2):
        runs.append(_run(study, "teacher", seed, 0.5))
        for _, regime, setting, label in study.UNIVERSAL_MODELS:
            base = 0.6 + (0.1 if setting == "mixed" else 0) + (0.02 if label == "F" else 0)
            base += 0.03 if regime == "finetune-long" else 0
            runs.append(_run(study, "student", seed, base + 0.001 * seed, setting, label, regime))
    text = study.universal_report(runs, GRID_NAMES)
    assert text.count("| model | seeds | grid mean") == 2  # test and val
    assert "| universal F | 3 | 72.10 ± 0.10 |" in text
    assert "| universal F − universal none, grid mean | 3 | +2.00 |" in text
    assert "| universal F − F multi-x4, on multi-x4 | 3 | +9.00 |" in text
    assert "| universal F − none resolution-x4, grid mean | 3 | +11.75 |" in text
    assert "| universal F, 300 steps | 3 | 75.10 ± 0.10 |" in text
    assert "| universal F, 300 steps − universal none, 300 steps, grid mean | 3 | +2.00 |" in text
    assert "| universal F, 300 steps − F multi-x4, on multi-x4 | 3 | +12.00 |" in text
    assert "| universal F, 300 steps − universal F, grid mean | 3 | +3.00 |" in text
    assert "| universal none, 300 steps − universal none, grid mean | 3 | +3.00 |" in text


def test_universal_report_without_the_long_students(study):
    runs = [_run(study, "teacher", 0, 0.5)]
    for _, regime, setting, label in study.UNIVERSAL_MODELS:
        if regime == "finetune":
            runs.append(_run(study, "student", 0, 0.6, setting, label, regime))
    text = study.universal_report(runs, GRID_NAMES)
    assert "300 steps" not in text and "| universal F − universal none, grid mean | 1 |" in text
