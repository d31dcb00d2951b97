"""One way to run `ellm-release` in a test: in this process, through the real entry point
(release.cli.app.main), so that global options, error rendering, exit codes and the --json outcome
document are the ones a user gets.

    result = run_cli("rebase", "0.13.0", repo=world.fork, manifest=world.manifest_path)
    assert result.code == 3 and "ellm-release continue" in result.err

For a separate process (kills, pipes, signals) use child_argv() and child_env().
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from click.testing import CliRunner

from release.cli.app import main
from support.paths import REPO_ROOT

# what a developer's shell may hold and a test must not inherit by accident
CALLER_VARIABLES = ("ELLM_STATE_DIR", "ELLM_REPO", "ELLM_MANIFEST")


class CliResult(NamedTuple):
    """How a run ended; unpacks as `code, out, err`."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout and stderr together, as a maintainer reads them in a terminal."""
        return self.out + self.err

    @property
    def error(self) -> str:
        """The failure as main() prints it: the message and its hints, one per line, without the
        `error: ` prefix and the hint indent; empty when nothing failed."""
        lines = self.err.splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("error: ")), None)
        if start is None:
            return ""
        return "\n".join([lines[start].removeprefix("error: "), *(line.strip() for line in lines[start + 1:])])

    def json(self) -> Any:
        """The one JSON document --json prints on stdout."""
        return json.loads(self.out)

    def __str__(self) -> str:  # shown by `assert ..., result`
        return f"exit code {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def run_cli(*args: str | os.PathLike[str], repo: str | os.PathLike[str] | None = None,
            manifest: str | os.PathLike[str] | None = None, json_output: bool = False, dry_run: bool = False,
            verbose: int = 0, env: Mapping[str, str | None] | None = None, input: str | None = None,
            cwd: str | os.PathLike[str] | None = None) -> CliResult:
    """`ellm-release [global options] ARGS`: the keyword options become the global options in front
    of ARGS; `env` sets (or, with None, removes) variables for this run only; `cwd` runs it elsewhere."""
    argv = [*(["--repo", str(repo)] if repo is not None else []),
            *(["--manifest", str(manifest)] if manifest is not None else []),
            *(["--json"] if json_output else []), *(["--dry-run"] if dry_run else []),
            *(["-v"] * verbose), *(str(a) for a in args)]
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        stdout, stderr, _ = stack.enter_context(CliRunner().isolation(input=input, env=dict(env or {})))
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            raise AssertionError("release.cli.app.main returned instead of exiting")
        sys.stdout.flush()
        sys.stderr.flush()
        return CliResult(code, stdout.getvalue().decode(errors="replace"),
                         stderr.getvalue().decode(errors="replace"))


def child_argv(*args: str | os.PathLike[str], repo: str | os.PathLike[str] | None = None,
               manifest: str | os.PathLike[str] | None = None) -> list[str]:
    """`python -m release [--repo R] [--manifest M] ARGS`, for a run in its own process."""
    return [sys.executable, "-m", "release", *(["--repo", str(repo)] if repo is not None else []),
            *(["--manifest", str(manifest)] if manifest is not None else []), *(str(a) for a in args)]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child `python -m release`: this checkout importable, the caller's
    ELLM_* variables left out, a terminal wide enough for tables; `extra` on top."""
    env = {k: v for k, v in os.environ.items() if k not in CALLER_VARIABLES}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "150"
    env.update(extra)
    return env
