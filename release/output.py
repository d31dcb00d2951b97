"""Terminal and machine output. Human text goes to stderr when --json is on, so that stdout
carries exactly one JSON document a CI step can parse."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console


def _console(stderr: bool) -> Console:
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
    console: Console = field(default_factory=lambda: _console(stderr=False))

    def __post_init__(self) -> None:
        if self.json:
            self.console = _console(stderr=True)

    def say(self, *args: Any, **kwargs: Any) -> None:
        """Progress and human-readable results (moved to stderr under --json)."""
        self.console.print(*args, **kwargs)

    def progress(self, text: str) -> None:
        """One plain line of progress: no markup parsing (titles such as "[Serve] ..." stay as they
        are) and cheap enough to print for every commit of a long replay."""
        stream = self.console.file
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
