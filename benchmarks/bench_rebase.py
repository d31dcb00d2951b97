#!/usr/bin/env python3
"""Rebase and status speed on a large synthetic upstream.

Builds (with `git fast-import`, in seconds) an upstream of --commits commits over a tree of --files
files, a fork whose ellm-0.12.0 carries a --stack commit patch stack, and a v0.13.0 release
--between commits later. Then, in one run and on copies of the same working copy, it times:

  tool:     ellm-release rebase 0.13.0 (a fresh process, as a user runs it; includes README and
            manifest writing)
  baseline: a plain shell loop of `git cherry-pick -x` over the same commits
  status:   ellm-release status on the rebased branch

and prints median times and the ratio tool / baseline (target <= 1.25) and the status time
(target < 1 s).

    python benchmarks/bench_rebase.py [--commits 20000] [--stack 40] [--trials 7]
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

from release.sandbox import PatchSpec, git, render_manifest

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


def build_history(repo: Path, commits: int, between: int, stack: int, files: int) -> dict[str, object]:
    """One repository holding upstream master, releases/0.13.0 (tag v0.13.0) and ellm-0.12.0."""
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
        stream.append(_commit("refs/heads/ellm-0.12.0", new, mark, f"Fork patch {i}",
                              [(path, f"# module {i}\nVALUE = {i}\n" + "x = 1\n" * 20 + f"PATCHED = {i}\n")],
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
    stream.append(_commit("refs/heads/releases/0.13.0", release, mark, "Release 0.13.0",
                          [("VERSION", "0.13.0\n")], commits + 1))
    stream.append(f"reset refs/tags/v0.13.0\nfrom :{release}\n\n".encode())
    marks_file = repo / "marks"
    git(repo, "init", "-q", "-b", "master")
    subprocess.run(["git", "fast-import", "--quiet", f"--export-marks={marks_file}"], cwd=repo,
                   input=b"".join(stream), check=True)
    marks = dict(line.split() for line in marks_file.read_text().splitlines())
    marks_file.unlink()
    return {"base": marks[f":{base_mark}"], "stack": [marks[f":{m}"] for m in stack_marks]}


def build_world(root: Path, args: argparse.Namespace) -> tuple[Path, Path, list[str]]:
    full = root / "full"
    full.mkdir(parents=True)
    info = build_history(full, args.commits, args.between, args.stack, args.files)
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
    stack = [str(s) for s in info["stack"]]  # type: ignore[union-attr]
    patches = [PatchSpec(f"patch-{i:03d}", f"Fork patch {i}", f"Synthetic patch {i}.", [sha])
               for i, sha in enumerate(stack)]
    manifest = root / "release/patches/manifest.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(render_manifest("0.12.0", str(info["base"]), upstream, fork, "127.0.0.1:5000/bench", patches))
    shutil.rmtree(full)
    return work, manifest, stack


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    os.sync()  # flush the copies just made, so their write-back does not land inside the timing
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def trial_copy(root: Path, work: Path, manifest: Path, n: int, kind: str) -> tuple[Path, Path]:
    dest = root / f"trial-{kind}-{n}"
    shutil.copytree(work, dest / "skypilot", symlinks=True)
    shutil.copytree(manifest.parent.parent, dest / "release")
    return dest / "skypilot", dest / "release/patches/manifest.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=20_000, help="upstream commits in all")
    parser.add_argument("--between", type=int, default=500, help="upstream commits between the two releases")
    parser.add_argument("--stack", type=int, default=40, help="commits in the patch stack")
    parser.add_argument("--files", type=int, default=2_000, help="files in the tree")
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ellm-bench-rebase-"))
    try:
        t0 = time.perf_counter()
        work, manifest, stack = build_world(root, args)
        built = time.perf_counter() - t0
        env = {**os.environ, "ELLM_STATE_DIR": str(root / "state")}
        tool_cmd = [sys.executable, "-P", "-m", "release"]  # -P: the cwd holds a folder named release
        loop = ("git checkout -q -b ellm-0.13.0 v0.13.0 && for c in " + " ".join(stack)
                + "; do git cherry-pick -x $c >/dev/null || exit 1; done")
        tool_times, loop_times, status_times = [], [], []
        for n in range(args.trials):  # interleaved, so drift in machine load hits both alike
            repo, man = trial_copy(root, work, manifest, n, "tool")
            tool_times.append(timed([*tool_cmd, "--repo", str(repo), "--manifest", str(man), "rebase", "0.13.0"],
                                    root, env))
            status_times.append(timed([*tool_cmd, "--repo", str(repo), "--manifest", str(man), "status"], root, env))
            repo, _ = trial_copy(root, work, manifest, n, "loop")
            loop_times.append(timed(["bash", "-c", loop], repo))
        figures = {
            "upstream_commits": args.commits, "stack": args.stack, "files": args.files,
            "build_seconds": round(built, 2),
            "rebase_seconds": round(statistics.median(tool_times), 3),
            "cherry_pick_loop_seconds": round(statistics.median(loop_times), 3),
            # each trial's pair ran back to back, so the median of per-pair ratios cancels machine drift
            "ratio": round(statistics.median(t / b for t, b in zip(tool_times, loop_times, strict=True)), 3),
            "status_seconds": round(statistics.median(status_times), 3),
        }
        if args.json:
            print(json.dumps(figures, indent=2))
        else:
            print(f"synthetic upstream: {args.commits} commits, {args.files} files; stack of {args.stack} commits "
                  f"(built in {figures['build_seconds']} s)")
            print(f"ellm-release rebase:         {figures['rebase_seconds']:.3f} s (median of {args.trials})")
            print(f"shell cherry-pick loop:      {figures['cherry_pick_loop_seconds']:.3f} s")
            print(f"ratio rebase / loop:         {figures['ratio']:.3f}   (median of per-trial ratios; target <= 1.25)")
            print(f"ellm-release status:         {figures['status_seconds']:.3f} s   (target < 1 s)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
