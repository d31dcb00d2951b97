"""How long a promotion takes, and what it moves: a ~10 MB and a ~1 GB image, promoted by copying the
manifest inside the registry, against the `docker pull` + `docker tag` + `docker push` way.

    sudo .venv/bin/python benchmarks/bench_promote.py [--large-mb 1024] [--small-mb 10] [--repeat 5]

Starts its own dockerd and registry (release.demo.localdaemons) in a temporary folder and stops them at
the end. Needs root, dockerd, docker-registry and buildx (scripts/setup.sh). A few minutes, most
of it building and pushing the 1 GB image once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from release.demo.localdaemons import DockerDaemon, LocalRegistry
from release.images import promote as promotion
from release.images.registry import RegistryClient
from release.manifest.model import ImageSpec, Manifest

REPOSITORY = "bench/skypilot"


def bench_manifest(registry: str, manifest_path: Path) -> Manifest:
    image = ImageSpec(repository=f"{registry}/{REPOSITORY}", stable_tag="v{version}", dev_tag="v{version}-dev")
    return Manifest(path=manifest_path, upstream_repo="u/u", upstream_url=None, upstream_remote="upstream",
                    version="0.0.0", base="0" * 40, fork_repo="EmbeddedLLM/skypilot", fork_url=None,
                    fork_remote="origin", fork_master="master", branch_pattern="ellm-{version}", image=image,
                    chart_name="skypilot/skypilot", chart_repo_name="skypilot", chart_repo_url=None, patches=())


def make_context(root: Path, megabytes: int) -> Path:
    """A FROM scratch build context with one file of random (incompressible) bytes."""
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY payload.bin /payload.bin\n")
    with (root / "payload.bin").open("wb") as out:
        for _ in range(megabytes):
            out.write(os.urandom(1 << 20))
    return root


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def docker(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True)


def blob_bytes(registry: LocalRegistry) -> int:
    """Bytes stored as blobs (layers, configs, manifests): what an upload would grow."""
    blobs = registry.storage / "docker" / "registry" / "v2" / "blobs"
    return sum(p.stat().st_size for p in blobs.rglob("data"))


def build_push(context: Path, image: str) -> tuple[float, str]:
    meta = context / "meta.json"
    seconds, _ = timed(lambda: subprocess.run(
        ["docker", "buildx", "build", "--platform", "linux/amd64", "-t", image, "--push", "--metadata-file",
         str(meta), "--progress", "quiet", str(context)], check=True, capture_output=True))
    return seconds, json.loads(meta.read_text())["containerimage.digest"]


def bench_promotions(manifest: Manifest, registry: LocalRegistry, state: Path, dev_digest: str, prefix: str,
                     repeat: int) -> dict[str, Any]:
    """Promote `repeat` fresh versions that all point at the same built image."""
    client = RegistryClient(registry.host)
    doc = client.get_manifest(REPOSITORY, dev_digest)
    times, uploads = [], 0
    blobs_before = blob_bytes(registry)
    for i in range(-1, repeat):  # run -1 warms up imports and connections and is not counted
        version = f"{prefix}.{i + 1}"
        client.put_manifest(REPOSITORY, manifest.dev_tag(version), doc)
        offset = registry.log_offset()

        def promote(v: str = version) -> promotion.PromoteResult:
            return promotion.promote(manifest, state, version=v, client=RegistryClient(registry.host),
                                     skip_smoke_gate=True)

        seconds, result = timed(promote)
        assert result.plan.dev_digest == dev_digest
        uploads += len(registry.blob_uploads_since(offset))
        if i >= 0:
            times.append(seconds)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": len(times),
            "blob_upload_requests": uploads, "blob_bytes_added": blob_bytes(registry) - blobs_before}


def bench_baseline(registry: LocalRegistry, dev_image: str, stable_image: str) -> dict[str, Any]:
    """docker pull + tag + push, starting from a daemon that does not hold the image."""
    docker("image", "rm", "-f", dev_image)
    docker("builder", "prune", "-af")
    offset, before = registry.log_offset(), blob_bytes(registry)
    pull, _ = timed(lambda: docker("pull", dev_image))
    tag, _ = timed(lambda: docker("tag", dev_image, stable_image))
    push, _ = timed(lambda: docker("push", stable_image))
    return {"pull_s": pull, "tag_s": tag, "push_s": push, "total_s": pull + tag + push,
            "blob_upload_requests": len(registry.blob_uploads_since(offset)),
            "blob_bytes_added": blob_bytes(registry) - before}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small-mb", type=int, default=10)
    parser.add_argument("--large-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="ellm-bench-"))
    with DockerDaemon(root / "docker") as daemon, LocalRegistry(root / "registry") as registry:
        os.environ["DOCKER_HOST"] = daemon.host
        manifest = bench_manifest(registry.host, root / "release" / "patches" / "manifest.yaml")
        state = root / "state"
        figures: dict[str, Any] = {"small_mb": args.small_mb, "large_mb": args.large_mb}
        for name, size in (("small", args.small_mb), ("large", args.large_mb)):
            image = f"{registry.host}/{REPOSITORY}:{name}-dev"
            build_s, digest = build_push(make_context(root / name, size), image)
            figures[f"{name}_build_push_s"] = build_s
            figures[f"{name}_promote"] = bench_promotions(manifest, registry, state, digest,
                                                          "1.0" if name == "small" else "2.0", args.repeat)
            if name == "large":
                figures["large_baseline"] = bench_baseline(registry, image,
                                                           f"{registry.host}/{REPOSITORY}:baseline")
    small, large = figures["small_promote"]["median_s"], figures["large_promote"]["median_s"]
    figures["promote_ratio_large_over_small"] = large / small
    figures["baseline_over_promote_large"] = figures["large_baseline"]["total_s"] / large
    report(figures, args.json)
    return figures


def report(figures: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(figures, indent=2, default=lambda o: dataclasses.asdict(o)))
        return
    s, lg, base = figures["small_promote"], figures["large_promote"], figures["large_baseline"]
    print(f"promote {figures['small_mb']} MB image:   median {s['median_s'] * 1000:.1f} ms over {s['runs']} runs, "
          f"blob uploads {s['blob_upload_requests']}, blob bytes added {s['blob_bytes_added']}")
    print(f"promote {figures['large_mb']} MB image: median {lg['median_s'] * 1000:.1f} ms over {lg['runs']} runs, "
          f"blob uploads {lg['blob_upload_requests']}, blob bytes added {lg['blob_bytes_added']}")
    print(f"ratio large/small promote time: {figures['promote_ratio_large_over_small']:.2f}")
    print(f"baseline for the large image: pull {base['pull_s']:.1f} s + tag {base['tag_s']:.2f} s + push "
          f"{base['push_s']:.2f} s = {base['total_s']:.1f} s (blob uploads {base['blob_upload_requests']}, "
          f"blob bytes added {base['blob_bytes_added']})")
    print(f"baseline / promote for the large image: {figures['baseline_over_promote_large']:.0f}x")
    print(f"(build + push once: small {figures['small_build_push_s']:.1f} s, "
          f"large {figures['large_build_push_s']:.1f} s)")


if __name__ == "__main__":
    main()
