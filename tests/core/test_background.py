"""Calls on threads of their own: a result or the call's own exception, a group that never leaves a
call running behind it, and writes done in order with the first failure reported."""

from __future__ import annotations

import threading
import time

import pytest

from release.background import Pending, SerialWorker, Threads


def test_a_pending_call_gives_its_value_or_raises_its_own_exception() -> None:
    assert Pending(lambda a, b=0: a + b, 2, b=3).result() == 5

    def fails() -> None:
        raise LookupError("no object abc")

    with pytest.raises(LookupError, match="no object abc"):
        Pending(fails).result()


def test_leaving_a_group_waits_for_every_call_also_when_the_block_raises() -> None:
    finished: list[str] = []

    def slow(name: str) -> None:
        time.sleep(0.05)
        finished.append(name)

    with pytest.raises(RuntimeError), Threads() as group:
        group.start(slow, "scan")
        group.start(slow, "status")
        raise RuntimeError("a check refused")
    assert sorted(finished) == ["scan", "status"]


def test_a_serial_worker_runs_calls_in_order_on_one_thread() -> None:
    order: list[int] = []
    threads: set[int] = set()

    def record(number: int) -> None:
        time.sleep(0.001 * (5 - number))  # the first calls take longest: order must still hold
        order.append(number)
        threads.add(threading.get_ident())

    worker = SerialWorker()
    for number in range(5):
        worker.submit(record, number)
    worker.wait()
    assert order == [0, 1, 2, 3, 4]
    assert len(threads) == 1 and threading.get_ident() not in threads
    worker.stop()


def test_a_serial_worker_reports_the_first_failure_once_and_goes_on() -> None:
    done: list[str] = []

    def write(name: str) -> None:
        if name.startswith("bad"):
            raise OSError(f"disk full writing {name}")
        done.append(name)

    worker = SerialWorker()
    for name in ("one", "bad-1", "two", "bad-2"):
        worker.submit(write, name)
    with pytest.raises(OSError, match="bad-1"):
        worker.wait()
    assert done == ["one", "two"]
    worker.wait()  # reported once
    worker.submit(write, "three")
    worker.stop()
    assert done == ["one", "two", "three"]


def test_a_serial_worker_whose_thread_cannot_start_raises_and_never_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = SerialWorker()

    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", no_thread)
        with pytest.raises(RuntimeError):
            worker.submit(print, "never")
    worker.wait()  # nothing was counted: returns at once
    worker.stop()
