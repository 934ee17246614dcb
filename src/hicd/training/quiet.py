"""The Lightning warnings hicd expects, silenced in one place for ``hicd fit|validate|test`` and
for programmatic runs (the demo and the benchmarks)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple


class ExpectedWarning(NamedTuple):
    """A warning message (regular expression matched at its start) that hicd silences."""

    message: str
    in_cli: bool
    """Silenced by the CLI too; otherwise only in programmatic runs, whose settings the user
    did not choose."""


EXPECTED_WARNINGS = (
    # The student's frozen teacher is meant to stay in eval mode.
    ExpectedWarning(r".*eval mode", in_cli=True),
    # The student degrades batches in its own on_after_batch_transfer, on purpose.
    ExpectedWarning(r".*on_after_batch_transfer", in_cli=True),
    # hicd.cli.main passes its argv on explicitly, also when called in-process.
    ExpectedWarning(r"LightningCLI's args parameter is intended", in_cli=True),
    ExpectedWarning(r".*does not have many workers", in_cli=False),
    ExpectedWarning(r".*exists and is not empty", in_cli=False),
    ExpectedWarning(r".*LeafSpec", in_cli=False),
    ExpectedWarning(r".*smaller than the logging interval", in_cli=False),
    ExpectedWarning(r".*records no pretrained backbone", in_cli=False),
)


@contextmanager
def expected_warnings_ignored(cli: bool = False) -> Iterator[None]:
    """Within the block, ignore :data:`EXPECTED_WARNINGS` (with ``cli``: those with
    ``in_cli``)."""
    with warnings.catch_warnings():
        for expected in EXPECTED_WARNINGS:
            if expected.in_cli or not cli:
                warnings.filterwarnings("ignore", message=expected.message)
        yield
