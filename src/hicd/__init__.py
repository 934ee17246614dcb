"""hicd: change detection in quality-varied bi-temporal remote-sensing images."""

from hicd.errors import DataError, HicdError

__all__ = ["DataError", "HicdError", "__version__"]
__version__ = "0.1.0"
