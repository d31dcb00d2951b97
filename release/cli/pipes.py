"""Output into a pipe that closes early (`ellm-release rebase | head -3`) must not stop the work.

Python reports a closed pipe as BrokenPipeError on the next write; left alone, that exception
would end a replay half-way. Once stdout or stderr is found closed, it is pointed at /dev/null
for the rest of the run: the work goes on and ends with its own exit code, and what would have
been printed is dropped (the reader asked for no more).
"""

from __future__ import annotations

import os
import sys
from contextlib import suppress
from typing import Any, TextIO


class PipeSafe:
    """A text stream whose writes never raise BrokenPipeError."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def _closed_pipe(self) -> None:
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)  # the same file descriptor, now a sink: buffered text drains into it
        os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._closed_pipe()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._closed_pipe()
            with suppress(BrokenPipeError):
                self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install() -> None:
    """Wrap sys.stdout and sys.stderr (once)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, PipeSafe):
            setattr(sys, name, PipeSafe(stream))


def drain() -> None:
    """Flush before exiting, so that a closed pipe cannot turn the exit code into Python's 120."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with suppress(BrokenPipeError, ValueError):
                stream.flush()
