"""Where buildx imports its layer cache from and exports it to, from the manifest's `image.cache`.

A fresh CI runner has no local layer cache, so without these flags every nightly rebuilds the
expensive stages (the cloud SDKs, the dashboard's npm build) from nothing.

  inline    (default) the pushed image carries its own cache metadata; the next build imports it
            from the dev tag. Only the final image's layers (mode=min), which is enough when the
            expensive stages feed the last one through unchanged COPY --from layers.
  registry  a separate cache image (`image.cache_ref`, default <repository>:buildcache) holding
            every stage's layers (mode=max). Builders on the `docker` driver cannot export it:
            they export inline instead, and say so.
  gha       GitHub Actions' cache service, every stage (mode=max): for the workflow, which exposes
            the service's URL and token to the build step.
  none      no cache flags.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from release.manifest.model import CACHE_MODES

# drivers that export only inline cache (a docker-container, kubernetes or remote builder does all)
INLINE_ONLY_DRIVERS = frozenset({"docker"})
GHA_ENV = "ACTIONS_RUNTIME_TOKEN"


@dataclass(frozen=True)
class CacheFlags:
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    note: str | None = None  # a fallback the user should know about

    def argv(self) -> list[str]:
        return [arg for value in self.cache_from for arg in ("--cache-from", value)] + \
               [arg for value in self.cache_to for arg in ("--cache-to", value)]


def default_cache_ref(image: str) -> str:
    """<repository>:buildcache for the image <repository>:<tag> (a registry port is not a tag)."""
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}:buildcache"


def cache_flags(mode: str, image: str, *, push: bool, driver: str | None, cache_ref: str | None = None,
                gha_scope: str | None = None) -> CacheFlags:
    """The --cache-from/--cache-to values for one build (pure). `driver` None means unknown: no fallback."""
    if mode not in CACHE_MODES:
        raise ValueError(f"unknown cache mode {mode!r}")
    if mode == "none":
        return CacheFlags()
    inline_only = driver in INLINE_ONLY_DRIVERS
    # the previous image of this tag is the cheapest cache there is: always worth importing
    from_dev = f"type=registry,ref={image}"
    # without --push nothing is published, cache included
    inline_to = ("type=inline",) if push else ()
    if mode == "inline":
        return CacheFlags((from_dev,), inline_to)
    if mode == "registry":
        ref = cache_ref or default_cache_ref(image)
        cache_from = (f"type=registry,ref={ref}", from_dev)
        if inline_only:
            return CacheFlags(cache_from, inline_to,
                              note=f"the buildx builder uses the {driver} driver, which cannot export a registry "
                                   "cache: exporting inline instead (a docker-container builder exports every "
                                   "stage: docker buildx create --use)")
        return CacheFlags(cache_from, (f"type=registry,ref={ref},mode=max",) if push else ())
    scope = gha_scope or default_cache_ref(image).rsplit(":", 1)[0]
    if inline_only:
        return CacheFlags((from_dev,), inline_to,
                          note=f"the buildx builder uses the {driver} driver, which cannot use GitHub Actions' "
                               "cache: exporting inline instead (docker/setup-buildx-action makes a builder "
                               "that can)")
    return CacheFlags((f"type=gha,scope={scope}", from_dev), (f"type=gha,mode=max,scope={scope}",) if push else ())


def gha_available(env: dict[str, str] | None = None) -> bool:
    """buildx reaches GitHub's cache service only when the workflow exposes its token to the step."""
    env = dict(os.environ) if env is None else env
    return bool(env.get(GHA_ENV)) and bool(env.get("ACTIONS_CACHE_URL") or env.get("ACTIONS_RESULTS_URL"))


def buildx_driver() -> str | None:
    """The driver of the current buildx builder (`docker`, `docker-container`, ...), None when unknown."""
    try:
        done = subprocess.run(["docker", "buildx", "inspect"], capture_output=True, text=True, check=False,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in done.stdout.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Driver" and value.strip():
            return value.strip()
    return None
