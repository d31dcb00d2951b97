"""Calls that run on threads of their own while the caller goes on.

The tool needs two things from threads: a question answered later (`Pending`, grouped in
`Threads`, whose end waits for every call) and writes done one after another (`SerialWorker`).
`concurrent.futures` does both, but loading it loads `logging` and `traceback` too: about 5 ms
at the start of every command that asks git questions in parallel, a rebase first of all.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Pending(Generic[T]):
    """A call running on a thread of its own; `result` waits for it, then returns its value or
    raises what it raised."""

    __slots__ = ("_error", "_thread", "_value")

    def __init__(self, call: Callable[..., T], *args: Any, **kwargs: Any):
        self._error: BaseException | None = None
        # not a daemon: a process that ends while the call still runs (a second Ctrl-C) waits for
        # it, as it waited for an executor's workers, instead of cutting a git write short
        self._thread = threading.Thread(target=self._run, args=(call, args, kwargs))
        self._thread.start()

    def _run(self, call: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            self._value = call(*args, **kwargs)
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


class Threads:
    """Calls started together; leaving the `with` block waits for every one of them, also when the
    block raises, so that no git process outlives the step that asked for it."""

    def __init__(self) -> None:
        self._started: list[Pending[Any]] = []

    def start(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> Pending[T]:
        pending = Pending(call, *args, **kwargs)
        self._started.append(pending)
        return pending

    def __enter__(self) -> Threads:
        return self

    def __exit__(self, *exc: object) -> None:
        for pending in self._started:
            pending.wait()


class SerialWorker:
    """Runs the calls given to it one after another, in order, on one thread of its own (started
    with the first call). `wait` returns once every call given so far is done, and raises the first
    failure among them; `stop` waits, then ends the thread. Calls are given from one thread (the
    one that also waits and stops); an idle worker never keeps the process from ending."""

    def __init__(self) -> None:
        self._calls: deque[tuple[Callable[..., None], tuple[Any, ...]] | None] = deque()
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()  # a call given, or the last one done
        self._unfinished = 0
        self._failures: list[BaseException] = []

    def submit(self, call: Callable[..., None], *args: Any) -> None:
        self._give((call, args))

    def _give(self, item: tuple[Callable[..., None], tuple[Any, ...]] | None) -> None:
        with self._changed:
            if self._thread is None:  # started before the call is counted: a failed start leaves no count
                thread = threading.Thread(target=self._work, daemon=True)
                thread.start()
                self._thread = thread
            self._calls.append(item)
            self._unfinished += item is not None
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._calls:
                    self._changed.wait()
                item = self._calls.popleft()
            if item is None:
                return
            call, args = item
            failure = None
            try:
                call(*args)
            except BaseException as exc:  # handed to whoever waits
                failure = exc
            with self._changed:
                if failure is not None:
                    self._failures.append(failure)
                self._unfinished -= 1
                self._changed.notify_all()

    def wait(self) -> None:
        with self._changed:
            while self._unfinished:
                self._changed.wait()
            failures, self._failures = self._failures, []
        if failures:
            raise failures[0]

    def stop(self) -> None:
        try:
            self.wait()
        finally:
            if self._thread is not None:
                self._give(None)
                self._thread.join()
                self._thread = None
