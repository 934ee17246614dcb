"""`hicd evaluate` end to end through the CLI dispatcher."""

from __future__ import annotations

import json

from hicd.cli.main import main


def test_cli_round_trip(checkpoints, dataset, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["evaluate", "--data", str(dataset), "--out", str(out), "--quiet"]
    for path, name in zip(checkpoints, ("teacher", "student"), strict=True):
        argv += ["--checkpoint", str(path), "--name", name]
    argv += ["--settings", "clean,resolution-x4", "--tile", "48", "--overlap", "16"]
    argv += ["--examples", "2", "--seed", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| setting | teacher F1 | teacher IoU | student F1 | student IoU |" in printed
    assert "| resolution-x4 |" in printed
    rows = json.loads((out / "results.json").read_text())
    assert [(r["model"], r["setting"]) for r in rows] == [
        ("teacher", "clean"),
        ("teacher", "resolution-x4"),
        ("student", "clean"),
        ("student", "resolution-x4"),
    ]
    assert "tile 48, overlap 16" in (out / "results.md").read_text()
    for name in ("results.csv", "confusion.json", "robustness.png", "examples.png"):
        assert (out / name).is_file()


def test_cli_reports_bad_inputs(checkpoints, dataset, tmp_path, capsys) -> None:
    base = ["evaluate", "--data", str(dataset), "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*base, "--checkpoint", str(tmp_path / "nope.ckpt")]) == 2
    assert "nope.ckpt: checkpoint not found" in capsys.readouterr().err
    assert main([*base, "--checkpoint", str(checkpoints[0]), "--settings", "clean,foggy"]) == 2
    assert "degradation setting 'foggy' is not valid" in capsys.readouterr().err
    assert main([*base, "--checkpoint", str(checkpoints[0]), "--examples", "-1"]) == 2
    assert "--examples" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
