"""`python -m release.smoke ...`: the same commands as `ellm-release smoke ...`, for playbooks that
run with only the package importable. Errors read as they do from `ellm-release`: one sentence,
its hints, and the exit code of its meaning (release/errors.py)."""

from __future__ import annotations

import sys

import click

from release.cli.commands.smoke import smoke
from release.errors import EXIT_FAILED, EXIT_INTERNAL, ReleaseError


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        smoke.main(args=args, prog_name="python -m release.smoke", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except ReleaseError as exc:
        click.echo(f"error: {exc.message}", err=True)
        for hint in exc.hints:
            click.echo(f"  {hint}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the system refused a read or a write (permissions, disk full, ...)
        click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(EXIT_FAILED)
    except Exception as exc:  # a bug: one line, not a traceback in the playbook's output
        click.echo(f"error: internal error ({type(exc).__name__}: {exc}); this is a bug", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)


if __name__ == "__main__":
    main()
