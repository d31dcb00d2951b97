"""`ellm-release rebase | head -3`: the reader leaves after three lines, the replay goes on to the end."""

from __future__ import annotations

import shlex
import subprocess

from repo_checks import picked_from, state_file
from support.cli import child_env
from support.worlds import world_argv

from release.demo.sandbox import World
from release.manifest.model import load_manifest


def test_a_closed_pipe_does_not_stop_the_replay(make_world: object) -> None:
    world: World = make_world(conflict=False, upstreamed=False, stack_size=30)  # type: ignore[operator]
    command = " ".join(shlex.quote(a) for a in world_argv(world, "rebase", "0.13.0"))

    done = subprocess.run(["bash", "-c", f"set -o pipefail; {command} 2>&1 | head -3"], capture_output=True,
                          text=True, env=child_env(), timeout=300)

    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    assert picked_from(world.fork, "v0.13.0..ellm-0.13.0") == [sha for p in world.patches for sha in p.commits]
    assert not state_file(world).exists()
    assert load_manifest(world.manifest_path).version == "0.13.0"
