"""The errors the CLI turns into one clear sentence, hints and an exit code that says what happened.

One tree, one exit code per meaning (README.md, "Exit codes"):

    0   done
    1   CheckFailed   the command ran, and what it checked does not hold (drift, a failed check)
    2   Refused       refused before changing anything (bad input, dirty tree, missing remote, ...)
    3   ConflictStop  a replay stopped on a conflict; continue / skip / abort go on
    4   Failed        failed part-way, or something outside failed (registry, build, push, Ansible,
                      GitHub); what was done is kept and the command can be run again
    70  InternalError a bug: the tool reached a state it believes impossible

`ReleaseError` itself has no exit code: every raise names one of the branches above, so the code a
user sees always says which of these happened.
"""

from __future__ import annotations

from typing import Any, ClassVar

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_REFUSED = 2
EXIT_CONFLICT = 3
EXIT_FAILED = 4
EXIT_INTERNAL = 70

EXIT_MEANINGS: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_DRIFT: "drift, or a check that failed",
    EXIT_REFUSED: "refused before any change",
    EXIT_CONFLICT: "stopped on a conflict",
    EXIT_FAILED: "failed part-way or an outside failure; run it again once the cause is fixed",
    EXIT_INTERNAL: "internal error (a bug)",
}


class ReleaseError(Exception):
    """A failure to report to the user as one sentence (plus optional hints), never a traceback.

    `data` is whatever partial result exists (a summary, a report); with --json it goes into the
    one document printed on stdout, next to the error."""

    exit_code: ClassVar[int]  # set by each branch of the tree, never here

    def __init__(self, message: str, *, hints: list[str] | None = None, data: dict[str, Any] | None = None):
        if getattr(type(self), "exit_code", None) is None:
            raise TypeError(f"{type(self).__name__} has no exit code: raise Refused, CheckFailed, "
                            "ConflictStop, Failed or InternalError (or a subclass of one)")
        super().__init__(message)
        self.message = message
        self.hints = hints or []
        self.data = data


class CheckFailed(ReleaseError):
    """The command ran; what it checked does not hold (drift, a failed smoke check)."""

    exit_code = EXIT_DRIFT


class Refused(ReleaseError):
    """Refused before anything changed: fix the input or the situation and run it again."""

    exit_code = EXIT_REFUSED


class ConflictStop(ReleaseError):
    """A replay stopped on a conflict; the state is saved for continue / skip / abort."""

    exit_code = EXIT_CONFLICT


class Failed(ReleaseError):
    """Failed part-way, or something outside the tool failed (a registry, a build, a push, Ansible,
    GitHub). What was done is kept; running the command again once the cause is fixed goes on."""

    exit_code = EXIT_FAILED


class InternalError(ReleaseError):
    """A bug: the tool reached a state it believes impossible. The message says which."""

    exit_code = EXIT_INTERNAL


class ManifestError(Exception):
    """Raised with every problem found in the manifest, so that one run shows them all."""

    def __init__(self, problems: list[Any]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
