"""`hicd evaluate` outputs: --out checked first, results written after every setting, --resume,
--overwrite, and the umask's modes."""

from __future__ import annotations

import json
import stat

import pytest

from hicd.cli.main import main
from hicd.errors import ConfigError
from hicd.evaluation import runner
from hicd.evaluation.runner import evaluate_checkpoints

RESULTS = ("results.json", "results.csv", "results.md", "confusion.json")
OPTIONS = {"settings": "clean,resolution-x4", "examples": 2, "progress": False}


def counting_predictor(monkeypatch, interrupt_at: int | None = None) -> list[int]:
    """Count the model calls of the runner; raise KeyboardInterrupt at call ``interrupt_at``."""
    calls: list[int] = []
    predict = runner.predict_change_probability

    def counted(*args, **kwargs):
        calls.append(1)
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return predict(*args, **kwargs)

    monkeypatch.setattr(runner, "predict_change_probability", counted)
    return calls


def argv(checkpoints, dataset, out, *extra: str) -> list[str]:
    args = ["evaluate", "--data", str(dataset), "--out", str(out), "--quiet"]
    for path in checkpoints:
        args += ["--checkpoint", str(path)]
    return [*args, "--settings", OPTIONS["settings"], "--examples", "2", *extra]


def test_bad_out_fails_before_any_model_is_loaded(checkpoints, dataset, tmp_path, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(runner, "load_model", no_loading)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"--out .*file: exists and is not a folder"):
        evaluate_checkpoints(checkpoints, dataset, out=blocker, **OPTIONS)
    with pytest.raises(ConfigError, match=r"--out .*file/sub: cannot be created, .*file is not a"):
        evaluate_checkpoints(checkpoints, dataset, out=blocker / "sub", **OPTIONS)
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "results.json").write_text("[]")
    with pytest.raises(ConfigError, match=r"earlier evaluation \(results.json\); give --resume"):
        evaluate_checkpoints(checkpoints, dataset, out=earlier, **OPTIONS)
    with pytest.raises(ConfigError, match=r"no progress\.json to resume from; give --overwrite"):
        evaluate_checkpoints(checkpoints, dataset, out=earlier, resume=True, **OPTIONS)
    with pytest.raises(ConfigError, match="--overwrite and --resume exclude each other"):
        evaluate_checkpoints(checkpoints, dataset, out=earlier, resume=True, overwrite=True)
    assert (earlier / "results.json").read_text() == "[]"


def test_cli_refuses_earlier_results_in_one_line(checkpoints, dataset, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "robustness.png").write_bytes(b"")
    assert main(argv(checkpoints, dataset, out)) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--resume to finish it, --overwrite to replace it" in error


def test_interrupted_run_keeps_finished_settings_and_resume_completes_it(
    checkpoints, dataset, tmp_path, monkeypatch, capsys
):
    full = tmp_path / "full"
    assert main(argv(checkpoints, dataset, full)) == 0

    out = tmp_path / "out"
    per_setting = 3 * len(checkpoints)  # pairs × checkpoints
    counting_predictor(monkeypatch, interrupt_at=per_setting + 1)
    assert main(argv(checkpoints, dataset, out)) == 130
    rows = json.loads((out / "results.json").read_text())
    assert [(r["model"], r["setting"]) for r in rows] == [("a", "clean"), ("b", "clean")]
    assert sorted(p.name for p in out.iterdir()) == sorted([*RESULTS, "progress.json"])

    assert main(argv(checkpoints, dataset, out)) == 2  # neither --resume nor --overwrite
    calls = counting_predictor(monkeypatch)
    assert main(argv(checkpoints, dataset, out, "--resume")) == 0
    assert len(calls) == per_setting  # only resolution-x4 was computed
    for name in RESULTS:
        assert (out / name).read_text() == (full / name).read_text(), name
    assert (out / "robustness.png").is_file() and (out / "examples.png").is_file()

    calls.clear()  # a finished run resumes to the same results without computing anything
    assert main(argv(checkpoints, dataset, out, "--resume")) == 0
    assert not calls and (out / "results.json").read_text() == (full / "results.json").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    capsys.readouterr()


def test_examples_drawn_when_their_setting_finishes_survive_an_interruption(
    checkpoints, dataset, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    args = [*argv(checkpoints, dataset, out), "--settings", "resolution-x4,clean"]
    counting_predictor(monkeypatch, interrupt_at=3 * len(checkpoints) + 1)  # in `clean`
    assert main(args) == 130
    assert (out / "examples.png").is_file()  # resolution-x4, the example setting, finished
    calls = counting_predictor(monkeypatch)
    assert main([*args, "--resume"]) == 0
    assert len(calls) == 3 * len(checkpoints)  # only `clean`
    assert (out / "examples.png").is_file() and (out / "robustness.png").is_file()


def test_resume_refuses_another_run(checkpoints, dataset, tmp_path) -> None:
    copies = []
    for path in checkpoints:
        copies.append(tmp_path / path.name)
        copies[-1].write_bytes(path.read_bytes())
    out = tmp_path / "out"
    first = {**OPTIONS, "settings": "clean"}
    evaluate_checkpoints(copies, dataset, out=out, **first)
    with pytest.raises(ConfigError, match=r"records another evaluation: seed 0 then, 1 now"):
        evaluate_checkpoints(copies, dataset, out=out, resume=True, seed=1, **first)
    with pytest.raises(ConfigError, match=r"settings \['clean'\] then, \['clean', 'resolution"):
        evaluate_checkpoints(copies, dataset, out=out, resume=True, **OPTIONS)
    with pytest.raises(ConfigError, match=r"checkpoint a \(.*\) then, a \(.*\) now"):
        evaluate_checkpoints(checkpoints, dataset, out=out, resume=True, **first)
    copies[0].write_bytes(checkpoints[1].read_bytes())
    with pytest.raises(ConfigError, match=r"checkpoint .*a\.ckpt has changed since"):
        evaluate_checkpoints(copies, dataset, out=out, resume=True, **first)


def test_overwrite_replaces_an_earlier_run(checkpoints, dataset, tmp_path) -> None:
    out = tmp_path / "out"
    evaluate_checkpoints(checkpoints, dataset, out=out, **OPTIONS)
    with pytest.raises(ConfigError, match="holds the results of an earlier evaluation"):
        evaluate_checkpoints(checkpoints[:1], dataset, out=out, **OPTIONS)
    single = {**OPTIONS, "settings": "clean", "examples": 0}
    evaluate_checkpoints(checkpoints[:1], dataset, out=out, overwrite=True, **single)
    rows = json.loads((out / "results.json").read_text())
    assert [(r["model"], r["setting"]) for r in rows] == [("a", "clean")]
    assert not (out / "examples.png").exists()  # the earlier sheet is gone with its run


@pytest.mark.parametrize(("mask", "files", "folders"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])  # fmt: skip
def test_results_follow_the_umask(
    checkpoints, dataset, tmp_path, mask, files, folders, umask
) -> None:
    out = tmp_path / "new" / "out"
    with umask(mask):
        evaluate_checkpoints(checkpoints[:1], dataset, out=out, **{**OPTIONS, "settings": "clean"})
    assert stat.S_IMODE(out.stat().st_mode) == folders
    names = [*RESULTS, "progress.json", "robustness.png", "examples.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == files, path.name
