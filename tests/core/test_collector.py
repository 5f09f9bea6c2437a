"""core/collector.py: old objects are left out of full collections during long work, and
handed back when the last overlapping block ends (nothing stays frozen for good)."""

from __future__ import annotations

import gc
import threading

from accessguard_gui.core.collector import collector_on_new_objects_only


def test_overlapping_blocks_share_one_freeze_and_hand_everything_back() -> None:
    assert gc.get_freeze_count() == 0
    with collector_on_new_objects_only():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        inner_done = threading.Event()

        def other_work() -> None:  # a second long job on a worker thread
            with collector_on_new_objects_only():
                assert gc.get_freeze_count() == frozen  # not frozen a second time
            inner_done.set()

        worker = threading.Thread(target=other_work)
        worker.start()
        worker.join()
        assert inner_done.is_set()
        assert gc.get_freeze_count() == frozen  # still paused: the outer block runs on
    assert gc.get_freeze_count() == 0


def test_an_error_in_the_work_still_hands_the_objects_back() -> None:
    try:
        with collector_on_new_objects_only():
            raise RuntimeError("the work failed")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
