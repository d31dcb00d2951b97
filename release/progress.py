"""The one shape of "print a line of progress", shared by every area that reports as it works.

Areas never print: they take a `Say` and call it with one plain line of text (never markup, so a
commit subject such as `[k8s] Fix ...` prints as it is). The command line passes its own printer,
which sends the line to stdout, or to stderr under --json; tests pass a list's append.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

Say = Callable[[str], None]


def say_nothing(_line: str) -> None:
    """A `Say` for callers that want no progress."""


def say_on_stderr(line: str) -> None:
    """The `Say` of a caller that passed none: stderr, which never carries a --json document."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
