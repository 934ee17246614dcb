"""The options of hicd predict, evaluate and degrade are built from their options objects.

Every option's default is its field's default, ``--help`` shows it, every field has its
option, the parsed defaults build the default options object, and the docs name every option.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from pathlib import Path

import pytest

from hicd import defaults
from hicd.cli import predict
from hicd.cli.main import build_parser, main
from hicd.cli.options import INVERTED, build_options
from hicd.data.degraded_copy import DegradeOptions
from hicd.errors import ConfigError
from hicd.evaluation.runner import EvaluateOptions, evaluate_checkpoints
from hicd.inference.scene import PredictOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "predict": (PredictOptions, ["--checkpoint", "c", "--t1", "a", "--t2", "b", "--out", "o"]),
    "evaluate": (EvaluateOptions, ["--checkpoint", "c", "--data", "d", "--out", "o"]),
    "degrade": (DegradeOptions, ["--data", "d", "--out", "o", "--setting", "multi-x4"]),
}
CLI_DIFFERS = {("predict", "progress")}
"""Fields whose command-line default differs on purpose: hicd predict shows a progress bar
(``--quiet`` hides it), ``ChangeDetector.predict_files`` shows none by default."""
API_ONLY = {("evaluate", "cell")}
"""Fields without a command-line option."""
DOCS = {"predict": "prediction.md", "evaluate": "evaluation.md", "degrade": "degradations.md"}


def subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser(command)
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


def field_actions(command: str) -> list[tuple[argparse.Action, dataclasses.Field, bool]]:
    """(action, field, inverted) for every option of ``command`` that sets a field."""
    cls = COMMANDS[command][0]
    fields = {field.name: field for field in dataclasses.fields(cls)}
    found = []
    for action in subparser(command)._actions:
        if action.dest in fields:
            found.append((action, fields[action.dest], False))
        elif INVERTED.get(action.dest) in fields:
            found.append((action, fields[INVERTED[action.dest]], True))
    return found


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_default_is_its_field_default(command: str) -> None:
    for action, field, inverted in field_actions(command):
        if (command, field.name) in CLI_DIFFERS:
            continue
        default = (not action.default) if inverted else action.default
        assert default == field.default, f"hicd {command} {action.option_strings[0]}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_field_has_an_option(command: str) -> None:
    cls = COMMANDS[command][0]
    reached = {field.name for _, field, _ in field_actions(command)}
    missing = {field.name for field in dataclasses.fields(cls)} - reached
    assert missing == {name for c, name in API_ONLY if c == command}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_parsed_defaults_build_the_default_options(command: str) -> None:
    cls, argv = COMMANDS[command]
    args = subparser(command).parse_args(argv)
    if command == "predict":
        options = predict.options_from_args(args)
        assert options == dataclasses.replace(PredictOptions(), progress=True)
    else:
        assert build_options(cls, args) == cls()


def help_entries(text: str) -> dict[str, str]:
    """``--help`` text by option: the first option string of each entry → its joined text."""
    entries: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            entries[current] = line
        elif current is not None and line.startswith("    "):
            entries[current] += line
        else:
            current = None
    return {option: " ".join(entry.split()) for option, entry in entries.items()}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_every_default(command: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    entries = help_entries(capsys.readouterr().out)
    for action, field, inverted in field_actions(command):
        if inverted or (field.default in (None, False) and "default_help" not in field.metadata):
            continue  # a flag, or an option unset by default: no default to show
        shown = " ".join(defaults.default_text(field).split())
        assert f"(default: {shown})" in entries[action.option_strings[0]]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_docs_name_every_option(command: str) -> None:
    text = (REPO_ROOT / "docs" / DOCS[command]).read_text()
    missing = [
        action.option_strings[0]
        for action in subparser(command)._actions
        if action.option_strings and action.option_strings[0] != "-h"
        if f"{action.option_strings[0]}" not in text
    ]
    assert not missing, f"docs/{DOCS[command]} does not name {missing}"


def test_defaults_are_read_from_one_module() -> None:
    from hicd.data import Tiling
    from hicd.evaluation.metrics import ChangeMetrics
    from hicd.evaluation.runner import EXAMPLE_SETTING
    from hicd.inference.quicklook import write_quicklook
    from hicd.inference.vector import write_change_polygons
    from hicd.training.demo import DemoConfig
    from hicd.training.student import StudentModule

    assert Tiling.resolve() == Tiling(defaults.TILE, defaults.overlap_for(defaults.TILE))
    assert PredictOptions().threshold == defaults.THRESHOLD
    assert ChangeMetrics().threshold == defaults.THRESHOLD
    for function in (write_quicklook, write_change_polygons):
        assert inspect.signature(function).parameters["threshold"].default == defaults.THRESHOLD
    signature = inspect.signature(StudentModule.__init__)
    assert signature.parameters["degradation"].default == defaults.SETTING
    assert DemoConfig().degradation == EXAMPLE_SETTING == defaults.SETTING
    assert PredictOptions().batch_size is EvaluateOptions().batch_size is None
    assert EvaluateOptions().seed == DegradeOptions().seed == defaults.SEED


def test_options_are_checked_and_keywords_kept(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--examples and --workers must be >= 0"):
        EvaluateOptions(examples=-1)
    with pytest.raises(ConfigError, match="--overlap must be in"):
        EvaluateOptions(tile=32, overlap=32)
    with pytest.raises(ConfigError, match="--date: 't3' is not one of t1, t2"):
        DegradeOptions(date="t3")
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*bogus"):
        evaluate_checkpoints([tmp_path / "c.ckpt"], tmp_path, bogus=1)
    with pytest.raises(TypeError, match="options must be a EvaluateOptions"):
        evaluate_checkpoints([tmp_path / "c.ckpt"], tmp_path, "test")
    options = EvaluateOptions(settings=["clean", "multi-x4"], names=["a"])
    assert options.settings == "clean,multi-x4" and options.names == ("a",)
    assert "threshold: change probability counted as change (default: 0.5)." in (
        PredictOptions.__doc__ or ""
    )
