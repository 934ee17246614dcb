"""hicd: change detection in quality-varied bi-temporal remote-sensing images."""

from typing import TYPE_CHECKING

from hicd._version import __version__
from hicd.errors import DataError, HicdError

if TYPE_CHECKING:
    from hicd.api import ChangeDetector

__all__ = ["ChangeDetector", "DataError", "HicdError", "__version__"]


def __getattr__(name: str):
    # ``hicd.ChangeDetector`` is imported on first use, so ``import hicd`` (and the CLI's start)
    # does not load torch.
    if name == "ChangeDetector":
        from hicd.api import ChangeDetector

        return ChangeDetector
    raise AttributeError(f"module 'hicd' has no attribute {name!r}")
