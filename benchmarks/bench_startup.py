#!/usr/bin/env python3
"""How fast the command line answers: `ellm-release --help` and `status` on a small repository.

Builds the demo's sandbox (an upstream, a fork with a short patch stack, a manifest) in a
temporary folder, then times fresh processes, as a user runs them, interleaved with the baseline:

  help:     ellm-release --help                      (target <= 0.20 s)
  status:   ellm-release status on the sandbox fork  (target <= 0.35 s)
  baseline: the same interpreter starting and exiting (`python -c pass`), measured in the same run

and prints the medians, each command's ratio to the baseline, and which modules `--help` loaded
that it should not (Rich, GitPython, YAML, the command modules).

    python benchmarks/bench_startup.py [--trials 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from release.demo.sandbox import build_world

TARGETS = {"help": 0.20, "status": 0.35}
# Modules `--help` must not pay for: they load when a command that uses them runs.
HEAVY = ("rich", "git", "yaml", "ruamel", "jinja2", "requests", "docker", "github", "release.cli.commands")


# An installed tool runs from compiled bytecode (pip writes the .pyc files, or the first run does):
# an environment that forbids writing them would time the compiler instead (about 0.1 s).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def heavy_modules_loaded_by_help(cwd: Path) -> list[str]:
    """Top-level modules from HEAVY that `python -X importtime -m release --help` imported."""
    done = subprocess.run([sys.executable, "-P", "-X", "importtime", "-m", "release", "--help"], cwd=cwd,
                          capture_output=True, text=True, check=True, env=ENV)
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ellm-bench-startup-"))
    try:
        world = build_world(root / "world")
        # -P: the sandbox holds a folder named release that must not shadow the package
        tool = [sys.executable, "-P", "-m", "release", "--repo", str(world.fork),
                "--manifest", str(world.manifest_path)]
        commands = {"baseline": [sys.executable, "-P", "-c", "pass"], "help": [*tool, "--help"],
                    "status": [*tool, "status"]}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for warm_up in ("help", "status"):  # bytecode written, files in the page cache: a user's second run
            timed(commands[warm_up], root)
        for _ in range(args.trials):  # interleaved, so a busy moment hits every figure alike
            for name, cmd in commands.items():
                times[name].append(timed(cmd, root))
        medians = {name: statistics.median(values) for name, values in times.items()}
        figures = {
            "trials": args.trials,
            **{f"{name}_seconds": round(value, 3) for name, value in medians.items()},
            **{f"{name}_ratio": round(statistics.median(t / b for t, b in zip(times[name], times["baseline"],
                                                                              strict=True)), 2)
               for name in TARGETS},
            "help_loaded": heavy_modules_loaded_by_help(root),
        }
        if args.json:
            print(json.dumps(figures, indent=2))
            return
        print(f"interpreter start (baseline): {figures['baseline_seconds']:.3f} s (median of {args.trials})")
        for name, target in TARGETS.items():
            seconds = figures[f"{name}_seconds"]
            verdict = "ok" if seconds <= target else "OVER"
            print(f"ellm-release {name:<7} {seconds:.3f} s  {figures[f'{name}_ratio']:.2f}x the baseline   "
                  f"(target <= {target:.2f} s: {verdict})")
        loaded = figures["help_loaded"]
        print("--help loaded none of Rich, GitPython, YAML, the command modules" if not loaded
              else f"--help loaded: {', '.join(loaded)}")  # type: ignore[arg-type]
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
