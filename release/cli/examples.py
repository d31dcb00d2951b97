"""The examples at the end of every `--help`, attached the one way: `@examples(...)` above the
click decorator.

    @examples("ellm-release status --json",
              "ellm-release --repo ~/src/skypilot status   a fork checked out elsewhere")
    @click.command()
    def status(...): ...

An example line is a command line as a user types it, optionally followed by two spaces and what
it does (or `# ...`). The lines are kept on the command as well, so the tests can run every one
through the parser: an example that names a removed option fails the suite, not a user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

CommandT = TypeVar("CommandT", bound=click.Command)

_ATTRIBUTE = "_ellm_examples"


def examples(*lines: str) -> Callable[[CommandT], CommandT]:
    """Show `lines` under "Example(s):" at the end of the command's help (unwrapped, as typed)."""
    if not lines:
        raise ValueError("@examples needs at least one example")

    def attach(command: CommandT) -> CommandT:
        if not isinstance(command, click.Command):
            raise TypeError("@examples goes above @click.command / @click.group, not below")
        heading = "Example:" if len(lines) == 1 else "Examples:"
        # \b keeps click from re-wrapping the block: a command line must stay as it is copied
        command.epilog = "\b\n" + heading + "\n" + "\n".join(f"  {line}" for line in lines)
        setattr(command, _ATTRIBUTE, tuple(lines))
        return command

    return attach


def examples_of(command: click.Command) -> tuple[str, ...]:
    """The example lines attached to `command` (empty when it has none)."""
    return tuple(getattr(command, _ATTRIBUTE, ()))
