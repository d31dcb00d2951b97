"""Terminal and machine output. Human text goes to stderr when --json is on, so that stdout
carries exactly one JSON document a CI step can parse, whatever the outcome.

Text is printed as text: Rich markup is off, so a commit subject such as `Fix [/] thing` or
`[k8s] Fix ...` prints as it is. Styling is asked for explicitly (`style=`, `Styled`, or a
`rich.text.Text`). Where styles would not show (a pipe, a file, a CI log: no terminal, and no
colour forced by FORCE_COLOR or TTY_COMPATIBLE) text and `Styled` text are written as they are,
without loading Rich."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

import click

from release.errors import EXIT_MEANINGS, EXIT_OK
from release.redaction import redact

if TYPE_CHECKING:  # Rich is imported when something is printed, not when `--help` starts
    from rich.console import Console


def styles_show(stream: Any) -> bool:
    """Whether Rich would style what goes to `stream`: its own rule, TTY_COMPATIBLE first, then
    FORCE_COLOR, then whether the stream is a terminal."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    forced = os.environ.get("FORCE_COLOR")
    if forced is not None:
        return forced != ""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a stream already closed
        return False


# the control characters Rich leaves out of printed text (bell, backspace, vertical tab, form feed,
# carriage return): left out of plain text too, so a subject prints the same either way
_LEFT_OUT = dict.fromkeys((7, 8, 11, 12, 13))


class Styled:
    """Text in pieces, each with a Rich style ("" for none): printed plain where styles do not show,
    as Rich text on a terminal (Rich asks `__rich__`)."""

    def __init__(self) -> None:
        self.pieces: list[tuple[str, str]] = []

    def append(self, text: str, style: str = "") -> None:
        self.pieces.append((text, style))

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.pieces)

    def __rich__(self) -> Any:
        from rich.text import Text

        text = Text(no_wrap=True, overflow="ignore")
        for piece, style in self.pieces:
            text.append(piece, style=style or None)
        return text


def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, markup=False, width=None if stream.isatty() else PLAIN_WIDTH)


PLAIN_WIDTH = 150  # logs and CI captures are not terminals: room for tables, not Rich's 80 columns


class JsonReady(Protocol):
    """A result a command reports with --json. `to_dict()` returns plain JSON data: str, int, bool,
    None, lists and dicts of them (a StrEnum is a str). Every result the areas hand to the command
    line follows this one convention."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class Options:
    """Global options, shared by every command through click's context object."""

    repo: Path = Path("skypilot")
    manifest: Path = Path("patches/manifest.yaml")
    dry_run: bool = False
    json: bool = False
    verbose: int = 0
    # The JSON result, kept for main() to print once, as one document that also says how the
    # command ended.
    result: Any = None
    _consoles: dict[bool, Console] = field(default_factory=dict, repr=False)

    @property
    def console(self) -> Console:
        # decided when first used: --json may come after the subcommand, after Options was made
        if self.json not in self._consoles:
            self._consoles[self.json] = _console(stderr=self.json)
        return self._consoles[self.json]

    @property
    def stream(self) -> Any:
        """Where human text goes: stderr under --json, else stdout."""
        return sys.stderr if self.json else sys.stdout

    @property
    def width(self) -> int:
        """The width tables are drawn to: the terminal's, else room for a log."""
        return self.console.width if styles_show(self.stream) else PLAIN_WIDTH

    def say(self, *args: Any, **kwargs: Any) -> None:
        """Progress and human-readable results (moved to stderr under --json). Strings are plain
        text, never markup (a subject such as `[k8s] Fix` prints as it is): no caller needs to say
        markup=False, and none can turn markup on. Pass style= to colour a whole line."""
        kwargs.pop("markup", None)
        if set(kwargs) <= {"style"} and all(isinstance(a, str | Styled) for a in args) \
                and not styles_show(self.stream):
            text = " ".join(a if isinstance(a, str) else a.plain for a in args)
            self.stream.write(redact(text).translate(_LEFT_OUT) + "\n")
            self.stream.flush()
            return
        self.console.print(*(redact(a) if isinstance(a, str) else a for a in args), **kwargs)

    def progress(self, text: str) -> None:
        """One plain line of progress: no markup parsing (titles such as "[Serve] ..." stay as they
        are) and cheap enough to print for every commit of a long replay."""
        stream = sys.stderr if self.json else sys.stdout
        stream.write(redact(text) + "\n")
        stream.flush()

    def emit(self, data: JsonReady | dict[str, Any] | list[Any]) -> None:
        """The machine-readable result of a command, printed only with --json: a result object
        (its to_dict()) or a dict the command composes."""
        if not self.json:
            return
        if not isinstance(data, dict | list):
            data = data.to_dict()
        self.result = {**self.result, **data} if isinstance(self.result, dict) and isinstance(data, dict) else data


P = ParamSpec("P")
R = TypeVar("R")


def options_of(ctx: click.Context) -> Options:
    """The run's global options: the ones main() passed in, or defaults for a command invoked on its
    own (a test's CliRunner, `python -m release.smoke`)."""
    return ctx.ensure_object(Options)


def pass_options(command: Callable[Concatenate[Options, P], R]) -> Callable[P, R]:
    """Hand a command the global options as its first argument. Goes right above the `def`:

        @click.command()
        @click.option(...)
        @pass_options
        def status(opts: Options, ...) -> None: ..."""

    @functools.wraps(command)
    def with_options(*args: P.args, **kwargs: P.kwargs) -> R:
        return command(options_of(click.get_current_context()), *args, **kwargs)

    return with_options


def outcome_document(result: Any, exit_code: int, error: str | None = None,
                     hints: list[str] | None = None) -> dict[str, Any]:
    """The one document --json prints: the command's result (or the part of it that exists) plus
    how it ended. `ok` is true exactly when the exit code is 0."""
    document = dict(result) if isinstance(result, dict) else {"result": result} if result is not None else {}
    if exit_code != EXIT_OK and not error:
        error = EXIT_MEANINGS.get(exit_code, f"exit code {exit_code}")
    document.update(ok=exit_code == EXIT_OK, exit_code=exit_code, error=error, hints=list(hints or []))
    return document


def write_json(data: Any) -> None:
    # redacted as text: a URL with credentials or a registered token is removed wherever it sits
    sys.stdout.write(redact(json.dumps(data, indent=2, sort_keys=True, default=str)) + "\n")
    sys.stdout.flush()
