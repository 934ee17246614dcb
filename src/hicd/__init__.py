"""hicd: change detection in quality-varied bi-temporal remote-sensing images."""

from typing import TYPE_CHECKING

from hicd._version import __version__
from hicd.errors import DataError, HicdError

if TYPE_CHECKING:
    from hicd.api import ChangeDetector, inspect_pair

__all__ = ["ChangeDetector", "DataError", "HicdError", "__version__", "inspect_pair"]


def __getattr__(name: str):
    # ``hicd.ChangeDetector`` and ``hicd.inspect_pair`` are imported on first use, so ``import hicd`` (and the CLI's start)
    # does not load torch.
    if name == "ChangeDetector":
        from hicd.api import ChangeDetector

        return ChangeDetector
    if name == "inspect_pair":
        from hicd.api import inspect_pair

        return inspect_pair
    raise AttributeError(f"module 'hicd' has no attribute {name!r}")
