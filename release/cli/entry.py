"""What an `ellm-release` process sets up before the command line loads (`python -m release` too)."""

from __future__ import annotations

import gc


def main() -> None:
    # One command is one short process. Python's cycle collector, meanwhile, walks the objects of the
    # two hundred or so modules a replay loads, as they load: about a twentieth of the replay's own
    # time, with every thread held. A whole run leaves some hundreds of objects in reference cycles
    # (the demo fewer), so the process does without it; reference counting frees everything else.
    gc.disable()
    from release.cli.app import main as run_command_line

    run_command_line()
