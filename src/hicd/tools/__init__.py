"""Deprecated: ``hicd.tools.degraded_copy`` is an alias of ``hicd.data.degraded_copy``, kept for
one release."""
