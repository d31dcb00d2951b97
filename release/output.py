"""Terminal and machine output. Human text goes to stderr when --json is on, so that stdout
carries exactly one JSON document a CI step can parse."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def _make_console(stderr: bool) -> Console:
    from rich.console import Console  # a fifth of the startup time: loaded by the first line printed

    # logs and CI captures are not terminals: give tables room instead of Rich's 80-column default
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 150)


@dataclass
class Options:
    """Global options, shared by every command through click's context object."""

    repo: Path = Path("skypilot")
    manifest: Path = Path("patches/manifest.yaml")
    dry_run: bool = False
    json: bool = False
    verbose: int = 0
    _console: Console | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def console(self) -> Console:
        # made on first use: JSON-only runs and --help never load Rich
        if self._console is None:
            self._console = _make_console(stderr=self.json)
        return self._console

    def say(self, *args: Any, **kwargs: Any) -> None:
        """Progress and human-readable results (moved to stderr under --json)."""
        self.console.print(*args, **kwargs)

    def progress(self, text: str) -> None:
        """One plain line of progress: no markup parsing (titles such as "[Serve] ..." stay as they
        are) and cheap enough to print for every commit of a long replay."""
        stream = sys.stderr if self.json else sys.stdout
        stream.write(text + "\n")
        stream.flush()

    def debug(self, *args: Any) -> None:
        if self.verbose:
            self.console.print(*args, style="dim")

    def emit(self, data: Any) -> None:
        """The machine-readable result of a command, printed only with --json."""
        if self.json:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
            sys.stdout.flush()
