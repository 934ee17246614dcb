"""One list of expected Lightning warnings, for the CLI and for programmatic runs."""

from __future__ import annotations

import warnings

import pytest

from hicd.training.quiet import EXPECTED_WARNINGS, expected_warnings_ignored

EVAL_MODE = "Found 1 module(s) in eval mode at the start of training."
WORKERS = "The 'train_dataloader' does not have many workers which may be a bottleneck."


@pytest.mark.parametrize(("cli", "shown"), [(True, [WORKERS]), (False, [])])
def test_cli_silences_only_its_share(cli, shown):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with expected_warnings_ignored(cli=cli):
            warnings.warn(EVAL_MODE, UserWarning, stacklevel=1)
            warnings.warn(WORKERS, UserWarning, stacklevel=1)
        warnings.warn(EVAL_MODE, UserWarning, stacklevel=1)  # the filters end with the block
    assert [str(w.message) for w in caught] == [*shown, EVAL_MODE]
    assert any(w.in_cli for w in EXPECTED_WARNINGS) and not all(w.in_cli for w in EXPECTED_WARNINGS)
