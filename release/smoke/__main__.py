"""`python -m release.smoke ...`: the same commands as `ellm-release smoke ...`, for playbooks that
run with only the package importable. It runs through the main command line's own runner, so
errors read exactly as they do from `ellm-release`: one sentence, its hints, and the exit code of
its meaning (release/errors.py); --json prints the same one document."""

from __future__ import annotations

from release.cli.app import main as run_command_line
from release.cli.app import with_global_options
from release.cli.commands.smoke import smoke


def main(argv: list[str] | None = None) -> None:
    run_command_line(argv, command=with_global_options(smoke), prog_name="python -m release.smoke")


if __name__ == "__main__":
    main()
