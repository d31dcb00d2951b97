"""`ellm-release demo`: the monthly release, end to end, on local repositories.

It builds a local upstream (v0.12.0, v0.13.0, a v0.14.0rc1 and stray rc branches), a fork whose
ellm-0.12.0 carries a patch stack (one patch conflicts on 0.13.0, one upstream already merged),
then runs the real commands a maintainer types, each as its own process, and resolves the
conflict the way a maintainer would. With Docker it goes on to build, push and promote the
image against a local registry.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from release.demo.sandbox import CONTROLLER_PY, build_world, git
from release.errors import Refused
from release.records import read_json, state_dir

# the walkthrough's printer: a line, and Rich's style= for headings (the CLI passes its own say)
Narrate = Callable[..., None]


def _run(say: Narrate, world_root: Path, *args: str,
         expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    shown = " ".join(shlex.quote(a) for a in args)
    say(f"\n$ ellm-release {shown}", style="bold cyan")
    # -P: the demo's folder holds a `release/` repository that must not shadow the package
    cmd = [sys.executable, "-P", "-m", "release", "--repo", "skypilot", "--manifest", "release/patches/manifest.yaml",
           *args]
    env = {**os.environ, "COLUMNS": "150"}
    done = subprocess.run(cmd, cwd=world_root, capture_output=True, text=True, env=env)
    for stream in (done.stdout, done.stderr):
        if stream.strip():
            say(stream.rstrip())
    if done.returncode not in expect:
        raise RuntimeError(f"`ellm-release {shown}` exited {done.returncode}, expected {expect}")
    say(f"(exit code {done.returncode})", style="dim")
    return done


def _print(text: str, **style: Any) -> None:
    print(text)


def run_demo(workdir: Path | None, *, images: bool = True, say: Narrate = _print) -> dict[str, Any]:
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ellm-demo-"))
    if root.exists() and any(root.iterdir()):
        raise Refused(f"{root} is not empty; give the demo an empty or new directory",
                      hints=["ellm-release demo   # a new temporary directory each time"])
    say(f"Building a local upstream, fork and release repository in {root}", style="bold")
    world = build_world(root)
    say(f"  upstream (bare):  {world.upstream_bare}\n  fork (bare):      {world.fork_bare}\n"
        f"  working copy:     {world.fork}   (remotes: origin = fork, upstream = upstream)\n"
        f"  manifest:         {world.manifest_path}")

    say("\n1. Where does the fork stand?", style="bold")
    _run(say, root, "status")
    say("\n2. Bring the fork's master up to upstream (fast-forward only)", style="bold")
    _run(say, root, "sync")
    say("\n3. Which upstream releases are newer than ours?", style="bold")
    _run(say, root, "upstream")
    say("   and which upstream commits up to 0.13.0 touch the files our patches touch?", style="bold")
    _run(say, root, "upstream", "--changes", "0.13.0")
    say("\n4. A rehearsal: the whole replay in a throw-away clone", style="bold")
    _run(say, root, "--dry-run", "rebase", "0.13.0", expect=(3,))
    say("\n5. The real rebase: it stops on the conflicting patch, exit code 3", style="bold")
    _run(say, root, "rebase", "0.13.0", expect=(3,))
    say("   Why? The upstream commit that changed the conflicting lines, again while stopped", style="bold")
    _run(say, root, "explain")

    say("\n6. The maintainer resolves it: keep the fork's capacity of 2, then stage the file", style="bold")
    (world.fork / "sky/utils/controller_utils.py").write_text(CONTROLLER_PY.replace("= 4", "= 2"), encoding="utf-8")
    git(world.fork, "add", "sky/utils/controller_utils.py")
    say("  $ git -C skypilot add sky/utils/controller_utils.py")
    _run(say, root, "continue")

    say("\n7. The README is generated; check it, and check the branch against the manifest", style="bold")
    _run(say, root, "readme", "--check")
    _run(say, root, "status")
    say("\n8. The last run's report, as a pull request body would show it", style="bold")
    _run(say, root, "report", "--format", "md")

    summary = read_json(state_dir(world.manifest_path) / "last-rebase.json")
    result: dict[str, Any] = {"workdir": str(root), "rebase": summary}
    if images:
        result["images"] = _image_part(world, say)
    say(f"\nDone. Everything is in {root}; the fork's new branch: "
        f"git -C {world.fork} log --oneline ellm-0.13.0")
    return result


def _image_part(world: Any, say: Narrate) -> dict[str, Any]:
    from release.demo import images_walkthrough as images_demo

    say("\n9. Images: build the -dev image, push it to a local registry, promote it by digest", style="bold")
    try:
        return images_demo.run_image_demo(world, say=say)
    except images_demo.DockerUnavailable as exc:
        say(f"skipping the image part: {exc}", style="yellow")
        return {"skipped": str(exc)}
