"""`hicd demo --quick`: the main job end to end at tiny sizes."""

import json
import stat

from hicd.cli.main import main


def test_quick_demo_writes_checkpoints_results_and_plots(
    tmp_path, capsys, umask, mobilenet_weights
) -> None:
    out = tmp_path / "demo"
    with umask(0o027):
        assert main(["demo", "--quick", "--out", str(out)]) == 0
    for name in (
        "teacher.ckpt",
        "none.ckpt",
        "hicd.ckpt",
        "results.json",
        "results.csv",
        "results.md",
        "robustness.png",
        "examples.png",
    ):
        assert (out / name).is_file(), name
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name  # the umask, not 0600
    rows = json.loads((out / "results.json").read_text())
    assert {row["model"] for row in rows} == {"teacher", "none", "hicd"}
    assert {row["setting"] for row in rows} == {"clean", "resolution-x4", "multi-x4"}
    assert "| setting |" in capsys.readouterr().out

    # a second run refuses the non-empty folder in one line, and --overwrite replaces the results
    assert main(["demo", "--quick", "--out", str(out)]) == 2
    assert "make demo DEMO_ARGS=--overwrite" in capsys.readouterr().err
    before = (out / "results.json").stat().st_mtime_ns
    assert main(["demo", "--quick", "--out", str(out), "--overwrite", "--seed", "1"]) == 0
    assert (out / "results.json").stat().st_mtime_ns > before
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_demo_refuses_a_non_empty_folder_before_any_work(tmp_path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"--out {tmp_path}: folder is not empty" in error
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_sigterm_while_the_demo_trains_exits_143(
    tmp_path, terminate_hicd, mobilenet_weights
) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--quick", "--steps", "500", "--out", str(out)]
    code, stderr = terminate_hicd(argv, lambda: (out / "work" / "teacher").is_dir(), timeout=180)
    assert code == 143, stderr
    assert "hicd: interrupted (SIGTERM)" in stderr
    assert not [p for p in out.rglob(".*.part")]
