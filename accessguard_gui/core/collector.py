"""Long work that makes many short-lived objects, without full garbage collections.

An export or a review makes hundreds of thousands of objects; the few that survive a
collection pile up in the oldest generation and set off full collections, each walking
every object of the process (the app's modules, Qt wrappers, SQLAlchemy's caches) with the
GIL held: an eighth of an export's time, and 136 ms gaps in the window while a review ran
on a worker. ``gc.freeze`` leaves the objects alive at the start out of those walks;
``gc.unfreeze`` hands them back when the work ends, so cycles among them are still
collected later and nothing is kept for good.

The freeze is process-wide and works from any thread; overlapping blocks (an export
while a review runs) share one freeze, released when the last of them ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0


@contextmanager
def collector_on_new_objects_only() -> Iterator[None]:
    """Let the cyclic collector skip every object that exists before the block."""
    global _holders
    with _lock:
        if _holders == 0:
            gc.freeze()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.unfreeze()
