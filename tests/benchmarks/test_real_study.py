"""The real-data study's configurations stay tied to the library's (no training here)."""

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
