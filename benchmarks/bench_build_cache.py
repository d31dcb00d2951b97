#!/usr/bin/env python3
"""What the build cache and the up-to-date check save, on a real dockerd and registry.

Starts a private dockerd (on a bridge of its own, so that RUN steps work) and a registry in a
temporary folder, makes a base image with `docker import` from a rootfs of this machine's own
binaries (nothing comes from Docker Hub), and a fork whose Dockerfile has two stages: an expensive
first one (random bytes, then a sleep standing in for an SDK download and an npm build) copied into
a cheap last one. Then, per trial, every build a fresh `ellm-release build --push` process:

  cold:      an empty builder, no image in the registry (the baseline)
  skip:      the same again, with no Docker engine reachable: "up to date" (target <= 2 s)
  rebuild:   one file of the last stage changed and committed, the builder emptied again (a fresh
             CI runner): the cache comes from the registry (target <= 0.25x cold)
  no cache:  another one-file change, emptied builder, --cache none (for comparison)

    sudo .venv/bin/python benchmarks/bench_build_cache.py [--trials 3] [--cache inline] [--seconds 10]

Needs root (dockerd, a bridge interface), dockerd, docker-registry and buildx (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from release.demo.localdaemons import DockerDaemon, LocalRegistry
from release.demo.sandbox import git

TARGETS = {"rebuild_ratio": 0.25, "skip_seconds": 2.0}
ROOTFS_PROGRAMS = ("sh", "sleep", "dd", "cat", "mkdir", "sha256sum", "ls")

DOCKERFILE = """\
ARG BASE
FROM ${{BASE}} AS sdk
# the expensive stage: stands in for the cloud SDKs and the dashboard's npm build
RUN mkdir -p /opt/sdk && dd if=/dev/urandom of=/opt/sdk/sdk.bin bs=1M count={megabytes} 2>/dev/null \\
    && sleep {seconds} && sha256sum /opt/sdk/sdk.bin > /opt/sdk/SHA256SUMS
FROM ${{BASE}}
COPY --from=sdk /opt/sdk /opt/sdk
COPY app/ /app/
"""

MANIFEST = """\
upstream:
  repo: skypilot-org/skypilot
  version: 0.13.0
  base: {base_sha}
fork:
  repo: EmbeddedLLM/skypilot
  branch: ellm-{{version}}
image:
  repository: {repository}
  stable_tag: v{{version}}
  dev_tag: v{{version}}-dev
  platform: linux/amd64
  cache: {cache}
  build_args:
    BASE: {base_image}
chart:
  name: skypilot/skypilot
patches: []
"""


def make_rootfs(dest: Path) -> None:
    """A minimal root filesystem: a few of this machine's programs and the libraries they load."""
    for name in ROOTFS_PROGRAMS:
        program = shutil.which(name)
        if program is None:
            raise SystemExit(f"{name} is not installed")
        files = [program] + [word for line in subprocess.run(["ldd", program], capture_output=True, text=True,
                                                               check=True).stdout.splitlines()
                             for word in line.split() if word.startswith("/")]
        for index, path in enumerate(files):
            target = dest / ("bin/" + name if index == 0 else path.lstrip("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(path).resolve(), target)
    (dest / "tmp").mkdir(exist_ok=True)


@contextmanager
def own_bridge() -> Iterator[str]:
    """A bridge interface for the benchmark's dockerd alone (the test daemons run without one)."""
    name = f"ellmb{secrets.token_hex(3)}"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"10.254.{secrets.randbelow(200) + 20}.1/24", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "link", "delete", name], check=False)


def run(cmd: list[str], env: dict[str, str], cwd: Path, *, input_bytes: bytes | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, input=input_bytes, capture_output=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout.decode()[-3000:]}\n"
                         f"{done.stderr.decode()[-3000:]}")
    return elapsed


def empty_builder(env: dict[str, str], root: Path) -> None:
    """What a fresh CI runner has: no build cache, no images (the base stays only in the registry)."""
    run(["docker", "builder", "prune", "-af"], env, root)
    run(["docker", "image", "prune", "-af"], env, root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--cache", default="inline", help="the manifest's image.cache for the cached rebuild")
    parser.add_argument("--seconds", type=int, default=10, help="how long the expensive stage sleeps")
    parser.add_argument("--megabytes", type=int, default=32, help="how much the expensive stage writes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: it starts its own dockerd")

    root = Path(tempfile.mkdtemp(prefix="ellm-bench-cache-"))
    try:
        with own_bridge() as bridge, \
                DockerDaemon(root / "docker", extra_args=(f"--bridge={bridge}",)).start() as daemon, \
                LocalRegistry(root / "registry").start() as registry:
            figures = measure(root, daemon, registry, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"two-stage build, expensive stage {args.seconds} s + {args.megabytes} MB; cache mode {args.cache}; "
          f"median of {args.trials} trials")
    print(f"cold build + push (baseline):      {figures['cold_seconds']:6.2f} s")
    print(f"unchanged, up to date (no engine): {figures['skip_seconds']:6.2f} s   (target <= 2 s)")
    print(f"one-file change, cache imported:   {figures['rebuild_seconds']:6.2f} s   ratio "
          f"{figures['rebuild_ratio']:.2f} (target <= {TARGETS['rebuild_ratio']})")
    print(f"one-file change, --cache none:     {figures['nocache_seconds']:6.2f} s   ratio "
          f"{figures['nocache_ratio']:.2f}")
    for note in figures["notes"]:  # type: ignore[attr-defined]
        print(f"note: {note}")


def measure(root: Path, daemon: DockerDaemon, registry: LocalRegistry, args: argparse.Namespace) -> dict[str, object]:
    docker_config = root / "docker-config"
    docker_config.mkdir()
    env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(docker_config)}
    plugins = Path("/usr/local/lib/docker/cli-plugins")
    if plugins.is_dir():  # the buildx plugin, wherever DOCKER_CONFIG points
        shutil.copytree(plugins, docker_config / "cli-plugins")
    env.pop("ELLM_STATE_DIR", None)
    rootfs = root / "rootfs"
    make_rootfs(rootfs)
    base_image = f"{registry.host}/bench/base:rootfs"
    tarball = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
    run(["docker", "import", "-", base_image], env, root, input_bytes=tarball)
    run(["docker", "push", base_image], env, root)

    tool = [sys.executable, "-P", "-m", "release"]
    no_engine = {**env, "DOCKER_HOST": f"unix://{root}/no-docker.sock"}
    times: dict[str, list[float]] = {"cold": [], "skip": [], "rebuild": [], "nocache": []}
    notes: set[str] = set()
    for trial in range(args.trials):
        work = root / f"trial-{trial}"
        fork = work / "skypilot"
        fork.mkdir(parents=True)
        git(fork, "init", "-q", "-b", "ellm-0.13.0")
        git(fork, "config", "user.email", "bench@example.invalid")
        git(fork, "config", "user.name", "Bench")
        (fork / "Dockerfile").write_text(DOCKERFILE.format(seconds=args.seconds, megabytes=args.megabytes))
        (fork / "app").mkdir()
        for i in range(20):
            (fork / "app" / f"module_{i}.py").write_text(f"VALUE = {i}\n")
        git(fork, "add", ".")
        git(fork, "commit", "-qm", "the fork")
        manifest = work / "release" / "patches" / "manifest.yaml"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(MANIFEST.format(base_sha="a" * 40, repository=f"{registry.host}/bench/app-{trial}",
                                            cache=args.cache, base_image=base_image))
        build = [*tool, "--repo", str(fork), "--manifest", str(manifest), "build", "--push"]

        empty_builder(env, root)
        times["cold"].append(run(build, env, work))
        times["skip"].append(run(build, no_engine, work))
        for kind, extra in (("rebuild", []), ("nocache", ["--cache", "none"])):
            (fork / "app" / "module_0.py").write_text(f"VALUE = '{kind}'\n")
            git(fork, "commit", "-qam", f"one file of the last stage ({kind})")
            empty_builder(env, root)
            start = time.perf_counter()
            done = subprocess.run([*tool, "--json", *build[len(tool):], *extra], env=env, cwd=work,
                                  capture_output=True, text=True)
            times[kind].append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"the {kind} build failed:\n{done.stdout}\n{done.stderr}")
            note = json.loads(done.stdout)["cache"]["note"]
            if note:
                notes.add(note)

    def median(kind: str) -> float:
        return round(statistics.median(times[kind]), 2)

    def ratio(kind: str) -> float:
        return round(statistics.median(t / c for t, c in zip(times[kind], times["cold"], strict=True)), 3)

    return {"trials": args.trials, "cache": args.cache, "expensive_stage_seconds": args.seconds,
            "cold_seconds": median("cold"), "skip_seconds": median("skip"), "rebuild_seconds": median("rebuild"),
            "nocache_seconds": median("nocache"), "rebuild_ratio": ratio("rebuild"),
            "nocache_ratio": ratio("nocache"), "notes": sorted(notes)}


if __name__ == "__main__":
    main()
