"""Every option of every argparse subcommand states its default in ``--help``."""

from __future__ import annotations

import argparse

import pytest

from hicd.cli.main import SUBCOMMANDS, build_parser, main


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser(command)
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_default_is_in_help(command: str) -> None:
    parser = _subparser(command)
    formatter = parser._get_formatter()
    missing = [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings
        and not any(action.default is v for v in (None, False, argparse.SUPPRESS))
        and "default" not in formatter._expand_help(action)
    ]
    assert not missing, f"hicd {command} --help omits the default of {missing}"


@pytest.mark.parametrize(
    ("command", "option", "default"),
    [
        ("evaluate", "--batch-size", "8 on a GPU, 1 on the CPU"),
        ("export", "--opset", "18"),
        ("demo", "--seed", "0"),
    ],
)
def test_help_shows_default(command: str, option: str, default: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    start = text.rindex(option)  # the options section comes after the usage line
    assert f"default: {default})" in text[start : start + 300]
