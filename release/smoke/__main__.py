"""`python -m release.smoke ...`: the same commands as `ellm-release smoke ...`, for playbooks that
run with only the package importable."""

from __future__ import annotations

import sys

import click

from release.commands.smoke import smoke
from release.errors import ReleaseError


def main(argv: list[str] | None = None) -> None:
    try:
        smoke.main(args=argv, prog_name="python -m release.smoke", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReleaseError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)


if __name__ == "__main__":
    main()
