"""Errors the CLI turns into one clear sentence and a distinct exit code."""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_DRIFT = 1  # the command ran, and what it checked does not hold (status drift, readme --check, ...)
EXIT_REFUSED = 2  # refused before changing anything (bad input, dirty tree, missing remote, ...)
EXIT_CONFLICT = 3  # a replay stopped on a conflict; state saved, continue/skip/abort go on


class ReleaseError(Exception):
    """A failure to report to the user as one sentence (plus optional hints), never a traceback."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, *, hints: list[str] | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hints = hints or []
        if exit_code is not None:
            self.exit_code = exit_code


class Refused(ReleaseError):
    """Refused before anything changed."""


class ConflictStop(ReleaseError):
    exit_code = EXIT_CONFLICT


class ManifestError(Exception):
    """Raised with every problem found in the manifest, so that one run shows them all."""

    def __init__(self, problems: list[Any]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
