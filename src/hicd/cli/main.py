"""The ``hicd`` command: one subcommand per job.

``fit``, ``validate`` and ``test`` go to Lightning's CLI (YAML configs); the others are plain
argparse subcommands, each defined in its own module with ``add_arguments`` and ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from hicd import __version__
from hicd.errors import HicdError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("hicd.cli.demo", "train teacher and students on synthetic scenes and compare them"),
    "degrade": ("hicd.cli.degrade", "write a degraded copy of a dataset"),
    "evaluate": ("hicd.cli.evaluate", "score checkpoints across quality-difference settings"),
    "inspect": ("hicd.cli.inspect", "measure the quality gap between the dates of pairs"),
    "predict": ("hicd.cli.predict", "predict a change map for two (georeferenced) images"),
    "export": ("hicd.cli.export", "export a checkpoint to ONNX or TorchScript"),
}
LIGHTNING_SUBCOMMANDS: dict[str, str] = {
    "fit": "train a teacher or a student from a YAML config (Lightning)",
    "validate": "validate a checkpoint from a YAML config (Lightning)",
    "test": "test a checkpoint from a YAML config (Lightning)",
}


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to every option whose help does not state its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            action.option_strings
            and not any(action.default is v for v in (None, False, argparse.SUPPRESS))
            and "default" not in text
        ):
            text += " (default: %(default)s)"
        return text


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose errors end, like every hicd error, in one ``hicd: error:`` line
    (after the usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        command = self.prog.removeprefix("hicd").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"hicd: error: {where}{message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argparse parser; only ``command``'s module is imported (all are listed in help)."""
    parser = ArgumentParser(
        prog="hicd", description="Change detection in quality-varied bi-temporal images."
    )
    parser.add_argument("--version", action="version", version=f"hicd {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if name != command:
            subparsers.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(
            name, help=help_text, description=module.__doc__, formatter_class=HelpFormatter
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    for name, help_text in LIGHTNING_SUBCOMMANDS.items():
        subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup (temporary files) runs."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM (docker, SLURM, systemd) like SIGINT while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_EXPECTED: dict[Path, tuple[int, int] | None] = {}


def expect_outputs(paths: Sequence[str | Path]) -> None:
    """Note the files the running command will have written when it is done (what each path
    is now: none, or an older file), so that a SIGTERM arriving once all of them are written
    ends the job normally instead of as interrupted."""
    _EXPECTED.clear()
    for path in map(Path, paths):
        _EXPECTED[path] = _identity(path)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def outputs_written() -> bool:
    """Whether every expected output exists as a new file (atomic writes rename a new inode)."""
    return bool(_EXPECTED) and all(
        (now := _identity(path)) is not None and now != before for path, before in _EXPECTED.items()
    )


def describe_os_error(error: OSError) -> str:
    """``FILE: reason`` of an operating-system error (the reason alone where it names none)."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hicd`` console script.

    Exit codes: 0 success, 2 an error hicd reports (``hicd: error: ...``, also a file the
    system cannot read or write: a full disk, a missing or read-only folder), 130 interrupted by
    SIGINT (Ctrl-C), 143 by SIGTERM.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    _EXPECTED.clear()
    try:
        if argv and argv[0] in LIGHTNING_SUBCOMMANDS:
            from hicd.cli.lightning import run_lightning_cli

            run_lightning_cli(argv)
            return 0
        args = build_parser(argv[0] if argv else None).parse_args(argv)
        with sigterm_as_interrupt():
            return int(args.handler(args) or 0)
    except HicdError as error:
        print(f"hicd: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, an unwritable folder, ...: the file and the reason
        print(f"hicd: error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except Terminated:
        if outputs_written():  # the job was done: a scheduler must not mark it failed
            print("hicd: SIGTERM after every output was written; done", file=sys.stderr)
            return 0
        print("hicd: interrupted (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("hicd: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    # run the imported module's main, not this __main__ copy: commands import hicd.cli.main
    # (expect_outputs, Terminated), and both must see the same state
    from hicd.cli.main import main as entry

    sys.exit(entry())
