"""End to end: `hicd fit` of a teacher and an HiCD student from configs/synthetic, resume from
`last`, checkpoint contents and checkpoint selection on val/f1; checkpoints load with
weights_only=True; missing or refused files in a config fail in one line naming the option."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from hicd.cli.main import main
from hicd.models import create_model
from hicd.models.checkpoint import CheckpointInfo, load_model, save_model_checkpoint


def read_metrics(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_teacher_run_folder_and_checkpoints(teacher_run):
    checkpoints = teacher_run / "checkpoints"
    assert {p.name for p in checkpoints.iterdir()} == {"best.ckpt", "last.ckpt"}
    version = teacher_run / "version_0"
    assert (version / "config.yaml").is_file()  # the resolved config of the run
    assert (version / "tensorboard").is_dir()
    rows = read_metrics(version / "metrics.csv")
    assert any(row.get("val/f1") for row in rows)
    assert any(row.get("train/loss") for row in rows)

    # Lightning checkpoints load safely (no pickled classes) and with load_model.
    checkpoint = torch.load(checkpoints / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2
    model, info = load_model(checkpoints / "best.ckpt")
    assert info.role == "teacher" and info.tile_size == 64 and info.method is None
    assert info.model_config["decoder_channels"] == 16
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)).logits
    assert logits.shape == (1, 2, 64, 64)


def test_best_checkpoint_is_chosen_on_val_f1(teacher_run):
    best = torch.load(teacher_run / "checkpoints" / "best.ckpt", weights_only=True)
    (state,) = [s for key, s in best["callbacks"].items() if "'monitor': 'val/f1'" in key]
    assert "'mode': 'max'" in next(k for k in best["callbacks"] if "val/f1" in k)
    scores = [
        float(r["val/f1"])
        for r in read_metrics(teacher_run / "version_0" / "metrics.csv")
        if r["val/f1"]
    ]
    assert float(state["best_model_score"]) == max(scores)
    assert Path(state["best_model_path"]).name == "best.ckpt"


def test_student_fit_resume_and_checkpoint(
    tmp_path, configs, run_fit, tiny_overlay, teacher_checkpoint
):
    root = tmp_path / "student"
    argv = [
        "--config", str(configs / "synthetic" / "student_hicd.yaml"),
        "--config", str(tiny_overlay),
        "--model.init_args.teacher_checkpoint", str(teacher_checkpoint),
        "--trainer.default_root_dir", str(root),
    ]  # fmt: skip
    assert main(["fit", *argv]) == 0
    last = root / "checkpoints" / "last.ckpt"
    first = torch.load(last, weights_only=True)
    assert first["global_step"] == 2

    # The student's checkpoints hold the student alone, and load as a plain network.
    assert all(key.startswith("model.") for key in first["state_dict"])
    teacher_state = torch.load(teacher_checkpoint, weights_only=True)["state_dict"]
    assert len(first["state_dict"]) == len(teacher_state)
    model, info = load_model(root / "checkpoints" / "best.ckpt")
    assert (info.role, info.method, info.degradation, info.degraded_date) == (
        "student",
        "hicd",
        "multi-x4",
        "t2",
    )
    assert info.extra["teacher_checkpoint"] == str(teacher_checkpoint)
    assert model.config == load_model(teacher_checkpoint)[0].config

    # Resume from last to a larger step budget: steps and optimiser state carry on.
    cli = run_fit([*argv, "--trainer.max_steps", "3", "--ckpt_path", "last"])
    assert cli.trainer.global_step == 3
    optimizer = cli.trainer.optimizers[0]
    steps = {float(state["step"]) for state in optimizer.state.values()}
    assert steps == {3.0}  # 2 restored + 1 new (a fresh optimiser would say 1)

    # Only the student (and adapters) are optimised; the teacher is frozen and absent.
    module = cli.model
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    teacher = list(module.distiller.teacher.parameters())
    assert teacher and not optimised & {id(p) for p in teacher}
    assert not any(p.requires_grad for p in teacher)
    assert optimised == {id(p) for p in module.distiller.student_parameters()}
    assert (root / "version_1" / "config.yaml").is_file()  # each invocation keeps its config


def test_validate_and_test_subcommands(teacher_run, configs, tiny_overlay, tiny_network_overlay):
    argv = [
        "--config", str(configs / "synthetic" / "teacher.yaml"),
        "--config", str(tiny_overlay),
        "--config", str(tiny_network_overlay),
        "--trainer.default_root_dir", str(teacher_run),
        "--ckpt_path", str(teacher_run / "checkpoints" / "best.ckpt"),
    ]  # fmt: skip
    assert main(["test", *argv]) == 0
    rows = read_metrics(sorted(teacher_run.glob("version_*/metrics.csv"))[-1])
    assert {"test/f1", "test/iou", "test/precision", "test/recall"} <= set(rows[-1])


def test_checkpoints_with_ema_load_and_resume_with_weights_only(
    tmp_path, configs, run_fit, tiny_overlay, tiny_network_overlay, monkeypatch
):
    root = tmp_path / "teacher-ema"
    argv = [
        "--config", str(configs / "synthetic" / "teacher.yaml"),
        "--config", str(tiny_overlay),
        "--config", str(tiny_network_overlay),
        "--config", str(configs / "callbacks" / "ema.yaml"),
        "--trainer.default_root_dir", str(root),
    ]  # fmt: skip
    run_fit(argv)
    for name in ("best.ckpt", "last.ckpt"):
        checkpoint = torch.load(root / "checkpoints" / name, weights_only=True)
        assert any("EMAWeightAveraging" in key for key in checkpoint["callbacks"])
        assert load_model(root / "checkpoints" / name)[1].role == "teacher"

    calls = []
    torch_load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return torch_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    cli = run_fit([*argv, "--trainer.max_steps", "3", "--ckpt_path", "last"])
    assert cli.trainer.global_step == 3
    assert calls and all(value is True for value in calls)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("hicd: error: ")]
    return line


NO_WEIGHTS = ["--model.init_args.network.pretrained", "null"]
CONFIG_PATH_CASES = {
    # A config from the repository run outside it: its relative backbone weights path.
    "pretrained": (
        "synthetic/teacher.yaml",
        [],
        "model.init_args.network.pretrained: ../shared/weights/mobilenet_v2-b0353104.pth",
    ),
    "teacher": (
        "synthetic/student_hicd.yaml",
        [],
        "model.init_args.teacher_checkpoint: runs/synthetic/teacher/checkpoints/best.ckpt",
    ),
    "data_root": (
        "synthetic/teacher.yaml",
        [*NO_WEIGHTS, "--data.kind", "generic", "--data.root", "data/gone"],
        "data.root: data/gone",
    ),
    "ckpt_path": (
        "synthetic/teacher.yaml",
        [*NO_WEIGHTS, "--ckpt_path", "gone.ckpt"],
        "ckpt_path: gone.ckpt",
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_PATH_CASES))
def test_missing_config_path_is_one_line(case, tmp_path, configs, capsys, monkeypatch):
    config, extra, expected = CONFIG_PATH_CASES[case]
    monkeypatch.chdir(tmp_path)
    argv = ["fit", "--config", str(configs / config), "--trainer.max_steps", "1", *extra]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"hicd: error: {expected} not found (relative paths are taken from")
    assert str(tmp_path) in line
    assert list(tmp_path.iterdir()) == []  # no run folder


def test_student_of_a_teacher_with_moved_backbone_weights(tmp_path, configs, capsys, monkeypatch):
    model = create_model("siam_fpn", backbone="tv_mobilenet_v2", decoder_channels=16)
    info = CheckpointInfo(dict(model.config), extra={"pretrained": "weights/moved.pth"})
    teacher = save_model_checkpoint(tmp_path / "teacher.ckpt", model, info)
    monkeypatch.chdir(tmp_path)
    argv = ["fit", "--config", str(configs / "synthetic" / "student_hicd.yaml")]
    assert main([*argv, "--model.init_args.teacher_checkpoint", str(teacher)]) == 2
    line = one_error_line(capsys)
    assert line.startswith("hicd: error: model.init_args.network.pretrained: weights/moved.pth")
    assert f"the teacher {teacher} records these backbone weights" in line


def test_refused_checkpoint_in_a_config_is_one_line(tmp_path, configs, capsys, png_writer):
    image = png_writer(tmp_path / "t1.png", np.zeros((8, 8, 3)))
    argv = ["fit", "--config", str(configs / "synthetic" / "student_hicd.yaml")]
    assert main([*argv, "--model.init_args.teacher_checkpoint", str(image)]) == 2
    assert one_error_line(capsys) == f"hicd: error: {image} is a PNG image, not a checkpoint " + (
        "(did you swap --checkpoint and --t1?)"
    )
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "pytorch-lightning_version": "2.4.0"}, foreign)
    teacher = [*NO_WEIGHTS, "--ckpt_path", str(foreign)]
    assert main(["fit", "--config", str(configs / "synthetic" / "teacher.yaml"), *teacher]) == 2
    assert "Lightning checkpoint of another project" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("config", "extra", "announced"),
    [
        ("teacher.yaml", [*NO_WEIGHTS], True),
        ("teacher.yaml", [], False),  # the ImageNet file of the config
        ("teacher.yaml", [*NO_WEIGHTS, "--ckpt_path", "last"], False),  # resumed: its weights
        ("student_hicd.yaml", [], False),  # the teacher's record (the student warns itself)
        ("student_hicd.yaml", ["--model.init_args.network", "{pretrained: null}"], True),
        (
            "student_hicd.yaml",
            ["--model.init_args.network", "{pretrained: null}", "--model.init_args.init_from_teacher", "true"],
            False,  # the teacher's weights
        ),
    ],
)  # fmt: skip
def test_which_fits_start_from_random_weights(config, extra, announced, configs):
    from hicd.cli.lightning import config_parser, random_backbone

    argv = ["fit", "--config", str(configs / "synthetic" / config), *extra]
    assert random_backbone(config_parser().parse_args(argv).fit) == announced


def test_a_fit_from_random_weights_says_so(tmp_path, configs, tiny_overlay, capsys):
    from hicd.cli.lightning import RANDOM_BACKBONE_NOTE

    argv = [
        "fit", "--config", str(configs / "synthetic" / "teacher.yaml"),
        "--config", str(tiny_overlay), *NO_WEIGHTS,
        "--model.init_args.network.options", "{decoder_channels: 8}",
        "--trainer.max_steps", "1", "--trainer.default_root_dir", str(tmp_path / "run"),
    ]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().err.splitlines().count(RANDOM_BACKBONE_NOTE) == 1
