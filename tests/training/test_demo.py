"""`hicd demo --quick`: the main job end to end at tiny sizes."""

import json

from hicd.cli.main import main


def test_quick_demo_writes_checkpoints_results_and_plots(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
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
    rows = json.loads((out / "results.json").read_text())
    assert {row["model"] for row in rows} == {"teacher", "none", "hicd"}
    assert {row["setting"] for row in rows} == {"clean", "resolution-x4", "multi-x4"}
    assert "| setting |" in capsys.readouterr().out
