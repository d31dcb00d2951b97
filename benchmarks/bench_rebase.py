#!/usr/bin/env python3
"""Rebase and status speed on a large synthetic upstream, against git's own sequencer.

Builds (with `git fast-import`, in seconds) an upstream of --commits commits over a tree of --files
files, a fork whose ellm-0.12.0 carries a patch stack, and a v0.13.0 release --between commits
later. Two stacks, each in its own world:

  synthetic: --stack commits, one patch each, all clean
  fork:      shaped like the real fork: 15 commits in 11 patches, the last commit conflicting with
             an upstream change made between the two releases (the replay stops there)

Then, in one run and on fresh copies of the same working copy (each with its index refreshed, as a
maintainer's is), it times:

  tool:     ellm-release rebase 0.13.0 (a fresh process, as a user runs it; planning, checkout,
            picks, and on success the README commit, the manifest update and the summary)
  baseline: one `git cherry-pick -x c1 c2 ... cN` process (git's sequencer, the physical limit),
            after `git checkout -b ellm-0.13.0 v0.13.0`; on the fork stack it stops at the same
            conflict
  status:   ellm-release status on the rebased branch (synthetic stack)

and prints median times and the ratio tool / baseline (target <= 1.25 for both stacks) and the
status time (target < 1 s).

    python benchmarks/bench_rebase.py [--commits 20000] [--stack 40] [--trials 7] [--only fork]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from release.demo.sandbox import PatchSpec, git, render_manifest

STAMP = 1_700_000_000


def _blob(data: str) -> bytes:
    raw = data.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _commit(ref: str, mark: int, parent: int | None, message: str, changes: list[tuple[str, str]], t: int) -> bytes:
    out = [f"commit {ref}\nmark :{mark}\ncommitter Bench <bench@example.invalid> {STAMP + t} +0000\n".encode(),
           _blob(message)]
    if parent is not None:
        out.append(f"from :{parent}\n".encode())
    for path, content in changes:
        out.append(f"M 100644 inline {path}\n".encode() + _blob(content))
    out.append(b"\n")
    return b"".join(out)


# The real fork's shape: 11 patches, 15 commits (four patches of two commits).
FORK_PATCH_SIZES = (1, 2, 1, 1, 2, 1, 2, 1, 2, 1, 1)


def build_history(repo: Path, commits: int, between: int, stack: int, files: int,
                  conflict: bool = False) -> dict[str, object]:
    """One repository holding upstream master, releases/0.13.0 (tag v0.13.0) and ellm-0.12.0.
    With `conflict`, the last stack commit and the release both change the same line."""
    stream: list[bytes] = []
    mark = 1
    tree = [(f"sky/module_{i:05d}.py", f"# module {i}\nVALUE = {i}\n" + "x = 1\n" * 20) for i in range(files)]
    tree.append(("README.md", "# Upstream\n\nA synthetic upstream for benchmarks.\n"))
    stream.append(_commit("refs/heads/master", mark, None, "Initial import", tree, 0))
    base_mark_at = commits - between
    for n in range(2, base_mark_at + 1):
        stream.append(_commit("refs/heads/master", n, n - 1, f"Upstream change {n}",
                              [(f"docs/log_{n % 97:02d}.md", f"entry {n}\n")], n))
    base_mark = base_mark_at
    # the patch stack: one commit per patch, each on a module the upstream never touches
    mark = base_mark
    stack_marks = []
    for i in range(stack):
        new = 100_000 + i
        path = f"sky/module_{i:05d}.py"
        value = "'fork'" if conflict and i == stack - 1 else str(i)  # the release changes this line too
        stream.append(_commit("refs/heads/ellm-0.12.0", new, mark, f"Fork patch {i}",
                              [(path, f"# module {i}\nVALUE = {value}\n" + "x = 1\n" * 20 + f"PATCHED = {i}\n")],
                              base_mark + i))
        stack_marks.append(new)
        mark = new
    # upstream moves on, then cuts releases/0.13.0 and tags it
    mark = base_mark
    for n in range(base_mark + 1, commits + 1):
        stream.append(_commit("refs/heads/master", n, mark, f"Upstream change {n}",
                              [(f"docs/log_{n % 97:02d}.md", f"entry {n}\n")], n))
        mark = n
    release = 200_000
    release_changes = [("VERSION", "0.13.0\n")]
    if conflict:
        last = stack - 1
        release_changes.append((f"sky/module_{last:05d}.py",
                                f"# module {last}\nVALUE = 'upstream'\n" + "x = 1\n" * 20))
    stream.append(_commit("refs/heads/releases/0.13.0", release, mark, "Release 0.13.0",
                          release_changes, commits + 1))
    stream.append(f"reset refs/tags/v0.13.0\nfrom :{release}\n\n".encode())
    marks_file = repo / "marks"
    git(repo, "init", "-q", "-b", "master")
    subprocess.run(["git", "fast-import", "--quiet", f"--export-marks={marks_file}"], cwd=repo,
                   input=b"".join(stream), check=True)
    marks = dict(line.split() for line in marks_file.read_text().splitlines())
    marks_file.unlink()
    return {"base": marks[f":{base_mark}"], "stack": [marks[f":{m}"] for m in stack_marks]}


def build_world(root: Path, args: argparse.Namespace, sizes: tuple[int, ...],
                conflict: bool) -> tuple[Path, Path, list[str]]:
    """The world for one stack: patch i holds sizes[i] consecutive commits of the stack."""
    root.mkdir(parents=True)
    full = root / "full"
    full.mkdir(parents=True)
    info = build_history(full, args.commits, args.between, sum(sizes), args.files, conflict)
    upstream = root / "upstream.git"
    fork = root / "fork.git"
    git(root, "clone", "-q", "--bare", str(full), str(upstream))
    git(upstream, "branch", "-D", "ellm-0.12.0")
    git(root, "clone", "-q", "--bare", str(full), str(fork))
    work = root / "skypilot"
    git(root, "clone", "-q", "-b", "ellm-0.12.0", str(fork), str(work))
    git(work, "remote", "add", "upstream", str(upstream))
    git(work, "fetch", "-q", "--tags", "upstream")
    for key, value in (("user.name", "Bench"), ("user.email", "bench@example.invalid")):
        git(work, "config", key, value)
    stack = [str(s) for s in cast(list[str], info["stack"])]
    patches, start = [], 0
    for i, size in enumerate(sizes):
        patches.append(PatchSpec(f"patch-{i:03d}", f"Fork patch {i}", f"Synthetic patch {i}.",
                                 stack[start:start + size]))
        start += size
    manifest = root / "release/patches/manifest.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(render_manifest("0.12.0", str(info["base"]), upstream, fork, "127.0.0.1:5000/bench", patches))
    shutil.rmtree(full)
    return work, manifest, stack


CPU_SECONDS: list[float] = []  # the CPU time (user + system, the process and its children) of each timed run


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> float:
    """Wall-clock seconds of one run; its CPU seconds go to CPU_SECONDS. On a machine busy with
    other work the wall clock mostly measures waiting for a core, the CPU time much less so."""
    os.sync()  # flush the copies just made, so their write-back does not land inside the timing
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def trial_copy(root: Path, work: Path, manifest: Path, n: int, kind: str) -> tuple[Path, Path]:
    dest = root / f"trial-{kind}-{n}"
    shutil.copytree(work, dest / "skypilot", symlinks=True)
    shutil.copytree(manifest.parent.parent, dest / "release")
    # a copy's files have new inode numbers and change times, so its index matches none of them and
    # git would read every file again, on both sides; a maintainer's index is up to date (any
    # status refreshes it), and so is each copy's before it is timed
    subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=dest / "skypilot", check=True)
    return dest / "skypilot", dest / "release/patches/manifest.yaml"


SCENARIOS = ("synthetic", "fork")


def bench_stack(root: Path, args: argparse.Namespace, scenario: str) -> dict[str, object]:
    """Times for one stack: tool and baseline interleaved per trial, on fresh copies."""
    fork = scenario == "fork"
    sizes = FORK_PATCH_SIZES if fork else (1,) * args.stack
    t0 = time.perf_counter()
    work, manifest, stack = build_world(root / scenario, args, sizes, conflict=fork)
    built = time.perf_counter() - t0
    env = {**os.environ, "ELLM_STATE_DIR": str(root / scenario / "state")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed tool runs from compiled bytecode
    # the command a user runs; the module where the package is not installed (-P: the cwd holds a
    # folder named release)
    script = Path(sys.executable).with_name("ellm-release")
    tool_cmd = [str(script)] if script.is_file() else [sys.executable, "-P", "-m", "release"]
    # git's sequencer in one process; on the fork stack it stops at the conflict with exit 1
    baseline = "git checkout -q -b ellm-0.13.0 v0.13.0 && git cherry-pick -x " + " ".join(stack) + " >/dev/null"
    tool_ok, baseline_ok = ((3,), (1,)) if fork else ((0,), (0,))
    repo, man = trial_copy(root / scenario, work, manifest, -1, "warm")  # bytecode and page cache, untimed
    timed([*tool_cmd, "--repo", str(repo), "--manifest", str(man), "rebase", "0.13.0"], root, env, tool_ok)
    tool_times, baseline_times, status_times = [], [], []
    tool_cpu, baseline_cpu = [], []
    def run_tool(n: int) -> None:
        repo, man = trial_copy(root / scenario, work, manifest, n, "tool")
        tool_times.append(timed([*tool_cmd, "--repo", str(repo), "--manifest", str(man), "rebase", "0.13.0"],
                                root, env, tool_ok))
        tool_cpu.append(CPU_SECONDS[-1])
        if not fork:
            status_times.append(timed([*tool_cmd, "--repo", str(repo), "--manifest", str(man), "status"], root,
                                      env))

    def run_baseline(n: int) -> None:
        repo, _ = trial_copy(root / scenario, work, manifest, n, "git")
        baseline_times.append(timed(["bash", "-c", baseline], repo, ok=baseline_ok))
        baseline_cpu.append(CPU_SECONDS[-1])

    for n in range(args.trials):  # interleaved, so drift in machine load hits both alike
        # and in turns which one goes first, so that neither always runs after the other's writes
        for run in (run_tool, run_baseline) if n % 2 == 0 else (run_baseline, run_tool):
            run(n)
    figures: dict[str, object] = {
        "commits": len(stack), "patches": len(sizes), "conflict": fork, "build_seconds": round(built, 2),
        "rebase_seconds": round(statistics.median(tool_times), 3),
        "cherry_pick_seconds": round(statistics.median(baseline_times), 3),
        # each trial's pair ran back to back, so the median of per-pair ratios cancels machine drift
        "ratio": round(statistics.median(t / b for t, b in zip(tool_times, baseline_times, strict=True)), 3),
        "rebase_cpu_seconds": round(statistics.median(tool_cpu), 3),
        "cherry_pick_cpu_seconds": round(statistics.median(baseline_cpu), 3),
        "cpu_ratio": round(statistics.median(t / b for t, b in zip(tool_cpu, baseline_cpu, strict=True)), 3),
    }
    if status_times:
        figures["status_seconds"] = round(statistics.median(status_times), 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=20_000, help="upstream commits in all")
    parser.add_argument("--between", type=int, default=500, help="upstream commits between the two releases")
    parser.add_argument("--stack", type=int, default=40, help="commits in the synthetic patch stack")
    parser.add_argument("--files", type=int, default=2_000, help="files in the tree")
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--only", choices=SCENARIOS, help="run one of the two stacks")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ellm-bench-rebase-"))
    try:
        results = {name: bench_stack(root, args, name) for name in SCENARIOS if args.only in (None, name)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps({"upstream_commits": args.commits, "files": args.files, "trials": args.trials,
                          **results}, indent=2))
        return
    print(f"synthetic upstream: {args.commits} commits, {args.files} files; median of {args.trials} trials")
    for name, figures in results.items():
        stops = ", stops at a conflict in the last one" if figures["conflict"] else ""
        print(f"{name}: {figures['commits']} commits in {figures['patches']} patches{stops} "
              f"(built in {figures['build_seconds']} s)")
        print(f"  ellm-release rebase:           {figures['rebase_seconds']:.3f} s")
        print(f"  git cherry-pick -x c1..cN:     {figures['cherry_pick_seconds']:.3f} s")
        print(f"  ratio rebase / cherry-pick:    {figures['ratio']:.3f}   (median of per-trial ratios; target <= 1.25)")
        print(f"  CPU seconds, rebase / git:     {figures['rebase_cpu_seconds']:.3f} / "
              f"{figures['cherry_pick_cpu_seconds']:.3f} = {figures['cpu_ratio']:.3f}")
        if "status_seconds" in figures:
            print(f"  ellm-release status:           {figures['status_seconds']:.3f} s   (target < 1 s)")


if __name__ == "__main__":
    main()
