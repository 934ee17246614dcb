"""Every YAML in configs/ parses through the `hicd fit` parser (nothing is instantiated), and
the paper-protocol compositions resolve to the intended runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from hicd.cli.lightning import config_parser, default_run_dir
from hicd.degradations import DegradationSetting
from hicd.distillation import METHOD_NAMES
from hicd.training import ChangeModule, StudentModule, TeacherModule

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
OVERLAY_BASES = {
    # Overlays carry no model class: each is checked on top of a base config.
    "students": "levir_cd/student.yaml",
    "degradations": "levir_cd/student.yaml",
    "callbacks": "levir_cd/teacher.yaml",
    # Data groups are included by `data: ../data/NAME.yaml`; checked as --data FILE.
    "data": "synthetic/teacher.yaml",
}
ALL_CONFIGS = sorted(CONFIGS.rglob("*.yaml"))

# The experiments of the paper: (dataset, degradation) pairs, each with methods none and hicd.
PROTOCOL = [
    ("levir_cd", "resolution-x4"),
    ("levir_cd", "resolution-x8"),
    ("levir_cd", "single-gaussian_blur-s3"),
    ("levir_cd", "multi-x4"),
    ("bandon", "resolution-x8"),
    ("bandon", "single-gaussian_blur-s3"),
    ("bandon", "multi-x8"),
    ("sv_cd", "resolution-x4"),
]


@pytest.fixture(scope="module")
def parser():
    return config_parser()


def parse(parser, *files: Path | str, extra: tuple[str, ...] = ()):
    argv = ["fit"]
    for file in files:
        argv += ["--config", str(CONFIGS / file)]
    return parser.parse_args([*argv, *extra]).fit


def argv_for(path: Path) -> tuple[list[Path | str], tuple[str, ...]]:
    group = path.parent.name
    if group == "data":
        return [OVERLAY_BASES[group]], ("--data", str(path))
    if group in OVERLAY_BASES:
        return [OVERLAY_BASES[group], path], ()
    return [path], ()


def import_class(class_path: str) -> type:
    import importlib

    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_configs_exist():
    names = {str(p.relative_to(CONFIGS)) for p in ALL_CONFIGS}
    for dataset in ("levir_cd", "bandon", "sv_cd"):
        assert {f"{dataset}/teacher.yaml", f"{dataset}/student.yaml"} <= names
    assert {"synthetic/teacher.yaml", "synthetic/student_hicd.yaml"} <= names
    assert "synthetic/student_none.yaml" in names


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_config_parses(parser, path):
    files, extra = argv_for(path)
    config = parse(parser, *files, extra=extra)
    module_class = import_class(config.model.class_path)
    assert issubclass(module_class, ChangeModule)
    # data.crop_size and data.eval_tile reach the module through the CLI's links.
    assert config.model.init_args.crop_size == config.data.crop_size
    assert config.model.init_args.eval_tile == config.data.eval_tile
    if module_class is StudentModule:
        DegradationSetting.parse(config.model.init_args.degradation)
        assert config.model.init_args.distillation.method in METHOD_NAMES


def test_data_groups_are_used():
    texts = "".join(p.read_text() for p in ALL_CONFIGS if p.parent.name != "data")
    for path in (CONFIGS / "data").glob("*.yaml"):
        assert f"data: ../data/{path.name}" in texts, path


@pytest.mark.parametrize(("dataset", "degradation"), PROTOCOL)
@pytest.mark.parametrize("method", ["none", "hicd"])
def test_paper_protocol_compositions(parser, dataset, degradation, method):
    config = parse(
        parser,
        f"{dataset}/student.yaml",
        f"students/{method}.yaml",
        f"degradations/{degradation}.yaml",
        extra=("--data.root", "/data/somewhere"),
    )
    init = config.model.init_args
    assert init.distillation.method == method
    setting = DegradationSetting.parse(init.degradation)
    assert setting.name.startswith(degradation)
    assert init.teacher_checkpoint == f"runs/{dataset}/teacher/checkpoints/best.ckpt"
    assert config.data.kind == dataset and config.data.root == "/data/somewhere"
    assert default_run_dir(config) == Path("runs", dataset, f"student-{method}-{setting.name}")


@pytest.mark.parametrize("dataset", ["levir_cd", "bandon", "sv_cd", "synthetic"])
def test_teacher_defaults(parser, dataset, mobilenet_weights):
    config = parse(parser, f"{dataset}/teacher.yaml")
    assert import_class(config.model.class_path) is TeacherModule
    network = config.model.init_args.network
    assert (network.name, network.backbone) == ("siam_fpn", "tv_mobilenet_v2")
    # The default backbone path is relative to the repository root (the working directory).
    assert (CONFIGS.parent / network.pretrained).resolve() == mobilenet_weights.resolve()
    assert default_run_dir(config) == Path("runs", dataset, "teacher")


def test_command_line_overrides(parser):
    config = parse(
        parser,
        "levir_cd/teacher.yaml",
        extra=("--data.crop_size", "128", "--model.init_args.optim.lr", "0.01"),
    )
    assert config.data.crop_size == config.model.init_args.crop_size == 128
    assert config.model.init_args.optim.lr == 0.01
    assert config.checkpoint.monitor == "val/f1" and config.checkpoint.mode == "max"
    assert config.last_checkpoint.filename == "last"


def test_hicd_overlays_follow_the_library(parser):
    from dataclasses import asdict

    from hicd.distillation import DistillationConfig
    from hicd.distillation.config import PRESETS

    base = "levir_cd/student.yaml"
    defaults = parse(parser, base, "students/hicd.yaml").model.init_args.distillation
    assert dict(defaults) == asdict(DistillationConfig())  # no default written twice
    for name in PRESETS:
        preset = parse(parser, base, f"students/{name}.yaml").model.init_args
        assert dict(preset.distillation) == asdict(DistillationConfig(**PRESETS[name])), name
    finetune = parse(parser, base, "students/hicd-finetune.yaml").model.init_args
    assert finetune.init_from_teacher is True


@pytest.mark.parametrize("path", sorted((CONFIGS / "students").glob("*.yaml")), ids=str)
def test_student_overlays_set_only_what_differs(path):
    import dataclasses

    import yaml

    from hicd.distillation import DistillationConfig

    defaults = {f.name: f.default for f in dataclasses.fields(DistillationConfig)}
    options = yaml.safe_load(path.read_text())["model"]["init_args"]["distillation"]
    assert "method" in options  # an overlay picks its method, whatever came before
    repeated = [k for k, v in options.items() if k != "method" and v == defaults[k]]
    assert not repeated, f"{path.name} repeats the defaults of {repeated}"


@pytest.mark.parametrize("stage", ["teacher", "student"])
def test_one_task_loss_option_for_teacher_and_student(parser, stage):
    from dataclasses import asdict

    from hicd.models.losses import TaskLossConfig

    option = "--model.init_args.loss.dice_weight"
    config = parse(parser, f"levir_cd/{stage}.yaml", extra=(option, "0.5"))
    assert dict(config.model.init_args.loss) == asdict(TaskLossConfig(dice_weight=0.5))


def test_ema_overlay(parser):
    config = parse(parser, "levir_cd/teacher.yaml", "callbacks/ema.yaml")
    (callback,) = config.trainer.callbacks
    assert callback.class_path.endswith("EMAWeightAveraging")


@pytest.mark.parametrize("method", ["none", "hicd"])
def test_universal_students_train_on_mixed(parser, method):
    config = parse(
        parser,
        "levir_cd/student.yaml",
        f"students/universal-{method}.yaml",
        extra=("--data.root", "/data/somewhere"),
    )
    init = config.model.init_args
    assert init.distillation.method == method and init.degradation == "mixed"
    assert DegradationSetting.parse(init.degradation).t1_probability == 0.5
    assert default_run_dir(config) == Path("runs", "levir_cd", f"student-{method}-mixed")
    overlay = parse(parser, "levir_cd/student.yaml", f"students/{method}.yaml")
    mixed = parse(
        parser, "levir_cd/student.yaml", f"students/{method}.yaml", "degradations/mixed.yaml"
    )
    assert dict(mixed.model.init_args.distillation) == dict(overlay.model.init_args.distillation)
    assert mixed.model.init_args.degradation == "mixed"


def test_universal_hicd_keeps_the_finetune_options(parser):
    base = "levir_cd/student.yaml"
    finetune = parse(parser, base, "students/hicd-finetune.yaml").model.init_args
    universal = parse(
        parser, base, "students/hicd-finetune.yaml", "students/universal-hicd.yaml"
    ).model.init_args
    assert dict(universal.distillation) == dict(finetune.distillation)
    assert universal.init_from_teacher is True and universal.degradation == "mixed"


def test_each_degradation_config_is_named_by_the_setting_it_selects() -> None:
    import yaml

    from hicd.degradations import expand_settings

    for path in sorted((CONFIGS / "degradations").glob("*.yaml")):
        degradation = yaml.safe_load(path.read_text())["model"]["init_args"]["degradation"]
        assert DegradationSetting.parse(path.stem).name == degradation, path
    members = expand_settings("single")  # the family: every kind at every severity
    assert len(members) == 30 and {m.setting for m in members} == {"single"}
