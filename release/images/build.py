"""Build the fork's image from a clean release branch and push it under the dev tag.

Pure planning first (the buildx command line, the labels), then the I/O that carries it out. A
push is recorded in the image record (release/images/record.py); `promote` (release/images/promote.py)
takes it from there.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from release.errors import Failed, Refused
from release.images import build_cache, build_skip, signing
from release.images.build_skip import LABEL_BUILD_INPUTS, SkipDecision
from release.images.manifests import LABEL_REVISION, LABEL_SOURCE, LABEL_VERSION
from release.images.record import ImageRecord, read_image_record, update_image_record
from release.images.registry import RegistryClient
from release.images.registry_auth import ENV_TOKEN, ENV_USER
from release.images.registry_errors import RegistryError
from release.manifest.model import Manifest
from release.progress import Say, say_nothing
from release.records import build_log_path, parse_image
from release.redaction import redact, strip_url_credentials
from release.repo.gitworktree import checkout_of, switch_hint

BUILDX_HINT = (
    "buildx is missing: run sudo scripts/setup.sh, which copies Debian trixie's docker-buildx into "
    "/usr/local/lib/docker/cli-plugins/docker-buildx (or install the docker-buildx-plugin package "
    "from Docker's apt repository)"
)

BUILDERS = ("buildx", "engine")


def now() -> str:
    """A record's timestamp: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- pure planning --------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuildPlan:
    version: str
    image: str  # repository:dev-tag
    revision: str
    source: str
    context: Path
    dockerfile: Path
    platform: str
    build_args: Mapping[str, str]
    push: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    cache: build_cache.CacheFlags = field(default_factory=build_cache.CacheFlags)
    attestations: tuple[str, ...] = ()  # buildx's --sbom/--provenance flags (release/images/signing.py)


def source_url(manifest: Manifest) -> str:
    """The fork's web address, for the OCI source label (ghcr.io links the package to it)."""
    if manifest.fork_url:
        url = strip_url_credentials(manifest.fork_url).removesuffix(".git")  # the manifest refuses them too
        if url.startswith("git@"):
            url = "https://" + url[4:].replace(":", "/", 1)
        return url
    return f"https://github.com/{manifest.fork_repo}"


def plan_build(manifest: Manifest, fork_dir: Path, version: str, revision: str, *, push: bool) -> BuildPlan:
    context = (fork_dir / manifest.image.context).resolve()
    dockerfile = Path(manifest.image.dockerfile)
    dockerfile = dockerfile if dockerfile.is_absolute() else (fork_dir / dockerfile).resolve()
    source = source_url(manifest)
    labels = {LABEL_SOURCE: source, LABEL_REVISION: revision, LABEL_VERSION: version}
    return BuildPlan(version=version, image=manifest.dev_image(version), revision=revision, source=source,
                     context=context, dockerfile=dockerfile, platform=manifest.image.platform,
                     build_args=dict(manifest.image.build_args), push=push, labels=labels)


def buildx_argv(plan: BuildPlan, metadata_file: Path) -> list[str]:
    argv = ["docker", "buildx", "build", "--platform", plan.platform, "-f", str(plan.dockerfile),
            "-t", plan.image, "--progress", "plain", "--metadata-file", str(metadata_file)]
    for key, value in sorted(plan.labels.items()):
        argv += ["--label", f"{key}={value}"]
    for key, value in sorted(plan.build_args.items()):
        argv += ["--build-arg", f"{key}={value}"]
    argv += plan.cache.argv()
    argv += plan.attestations
    argv.append("--push" if plan.push else "--load")
    argv.append(str(plan.context))
    return argv


# --- the fork working copy ------------------------------------------------------------------------

def clean_branch_revision(repo: Path, branch: str) -> str:
    """The fork commit to build: the head of `branch`, once the working copy is found to be a clean
    checkout of it (refused otherwise)."""
    checkout = checkout_of(repo)
    if checkout is None:
        raise Refused(f"{repo} is not a git working copy of the fork",
                      hints=["point --repo at the fork's working copy (default: skypilot/)"])
    if checkout.branch != branch:
        where = f"on {checkout.branch!r}" if checkout.branch else "on a detached HEAD"
        raise Refused(f"{repo} is {where}, not on {branch}; a release image is built from the branch head",
                      hints=[switch_hint(repo, branch)])
    dirty = checkout.changes
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise Refused(f"{repo} has uncommitted changes ({shown}); the image would not match any commit",
                      hints=["commit or stash them, then build again"])
    if checkout.head is None:
        raise Refused(f"{branch} in {repo} has no commit yet; a release image is built from a commit")
    return checkout.head


# --- build ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuildResult:
    plan: BuildPlan
    digest: str | None  # the manifest digest in the registry (None when not pushed)
    builder: str
    log_path: Path
    record: ImageRecord | None
    skip: SkipDecision | None = None  # what the registry said before building (pushes only)

    @property
    def up_to_date(self) -> bool:
        return self.skip is not None and self.skip.up_to_date


def buildx_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False).returncode == 0


def _stream(argv: list[str], log_path: Path, on_line: Say,
            env: Mapping[str, str] | None = None) -> int:
    """Run a build, writing every line to the log and handing it to the progress display."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log, subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            env={**os.environ, **(env or {})}) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = redact(line.rstrip("\n"))
            log.write(line + "\n")
            on_line(line)
        return proc.wait()


def run_buildx(plan: BuildPlan, log_path: Path, on_line: Say) -> str | None:
    if not buildx_available():
        raise Refused("docker buildx is not installed",
                      hints=[BUILDX_HINT, "or build with the Docker engine's own builder: --builder engine"])
    with tempfile.TemporaryDirectory(prefix="ellm-build-") as tmp:
        metadata = Path(tmp) / "metadata.json"
        code = _stream(buildx_argv(plan, metadata), log_path, on_line)
        if code != 0:
            hints = [f"the full build log: {log_path}"]
            login = push_login_hint(log_path.read_text(encoding="utf-8", errors="replace"),
                                    parse_image(plan.image).registry) if plan.push else None
            raise Failed(f"docker buildx build failed (exit code {code})", hints=[*([login] if login else []), *hints])
        data = json.loads(metadata.read_text()) if metadata.exists() else {}
    digest = data.get("containerimage.digest")
    return str(digest) if plan.push and digest else None


# What docker buildx says when the registry refuses a push for want of credentials.
_PUSH_REFUSALS = ("no basic auth credentials", "unauthorized", "authentication required", "denied")


def push_login_hint(log_text: str, registry: str) -> str | None:
    """The hint for a push the registry refused: buildx pushes with Docker's own login, which the
    tool's ELLM_REGISTRY_USER/ELLM_REGISTRY_TOKEN do not reach. Only the push phase is read: a
    refused cache import before it is harmless."""
    lines = log_text.lower().splitlines()
    pushing = [i for i, line in enumerate(lines) if "pushing" in line]
    if not pushing or not any(word in line for line in lines[pushing[0]:] for word in _PUSH_REFUSALS):
        return None
    return (f"the registry refused the push: docker login {registry} (docker buildx pushes with Docker's "
            "login; ELLM_REGISTRY_USER/ELLM_REGISTRY_TOKEN serve promote, image status and signing)")


def run_engine_build(plan: BuildPlan, log_path: Path, on_line: Say) -> str | None:
    """The fallback: the daemon's classic builder through the docker SDK, then a push by the daemon.
    Single platform only, and the daemon must support the requested platform."""
    import docker  # imported here: only this builder needs it
    from docker.errors import APIError, DockerException

    try:
        api = docker.from_env(version="auto").api  # honours DOCKER_HOST
    except DockerException as exc:
        raise Failed(f"no Docker daemon is reachable ({exc})",
                           hints=["start dockerd or set DOCKER_HOST"]) from None
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        def emit(line: str) -> None:
            line = redact(line)
            log.write(line + "\n")
            on_line(line)

        try:
            for chunk in api.build(path=str(plan.context), dockerfile=str(plan.dockerfile), tag=plan.image,
                                   labels=dict(plan.labels), buildargs=dict(plan.build_args),
                                   platform=plan.platform, rm=True, decode=True):
                _engine_chunk(chunk, emit, "build")
            if not plan.push:
                return None
            repo, _, tag = plan.image.rpartition(":")
            digest = None
            for chunk in api.push(repo, tag=tag, stream=True, decode=True, auth_config=_engine_auth()):
                digest = _engine_chunk(chunk, emit, "push") or digest
        except APIError as exc:
            raise Failed(redact(f"the Docker engine failed: {exc.explanation or exc}"),
                               hints=[f"the full build log: {log_path}"]) from None
    return digest


def _engine_chunk(chunk: Mapping[str, Any], emit: Say, stage: str) -> str | None:
    if "error" in chunk:
        emit(str(chunk["error"]))
        raise Failed(redact(f"docker {stage} failed: {str(chunk['error']).strip()}"))
    if chunk.get("stream"):
        for line in str(chunk["stream"]).splitlines():
            emit(line)
    elif chunk.get("status"):
        emit(" ".join(str(chunk[k]) for k in ("id", "status", "progress") if chunk.get(k)))
    aux = chunk.get("aux") or {}
    return str(aux["Digest"]) if isinstance(aux, dict) and aux.get("Digest") else None


def _engine_auth() -> dict[str, str] | None:
    token = os.environ.get(ENV_TOKEN)
    return {"username": os.environ.get(ENV_USER) or "token", "password": token} if token else None


def build(manifest: Manifest, fork_dir: Path, state: Path, *, version: str | None = None, push: bool = False,
          builder: str = "buildx", dry_run: bool = False, on_line: Say = say_nothing,
          client: RegistryClient | None = None, force: bool = False, cache: str | None = None,
          attest: bool = False) -> BuildResult:
    """Check the fork, build the dev image, push it, and record the digest the registry holds.
    A push first asks the registry: a dev tag that already holds this build is left as it is."""
    version = version or manifest.version
    if builder not in BUILDERS:
        raise Refused(f"unknown builder {builder!r}; choose one of {', '.join(BUILDERS)}")
    revision = clean_branch_revision(fork_dir, manifest.branch(version))
    plan = plan_build(manifest, fork_dir, version, revision, push=push)
    if not plan.dockerfile.is_file():
        raise Refused(f"the Dockerfile {plan.dockerfile} does not exist",
                      hints=["set image.dockerfile in the manifest (relative to the fork)"])
    inputs = build_skip.inputs_of(plan.dockerfile, plan.build_args, plan.platform)
    plan = dataclasses.replace(plan, labels={**plan.labels, LABEL_BUILD_INPUTS: inputs})
    log_path = build_log_path(state, version)
    skip = None
    if push:
        client = client or RegistryClient(parse_image(plan.image).registry)
        skip = _ask_registry(client, plan, inputs, force=force, dry_run=dry_run)
        if skip.up_to_date and skip.existing is not None:
            record = None if dry_run else _record_existing(manifest, state, plan, skip.existing)
            return BuildResult(plan, skip.existing.digest, builder, log_path, record, skip)
    if attest and (builder != "buildx" or not push):
        raise Refused("--attest (SBOM and provenance) needs the buildx builder and --push")
    if builder == "buildx":
        plan = dataclasses.replace(plan, cache=_cache_flags(manifest, plan, cache or manifest.image.cache))
    if attest:
        plan = dataclasses.replace(plan, attestations=tuple(signing.attestation_flags(build_cache.buildx_driver())))
    if dry_run:
        return BuildResult(plan, None, builder, log_path, None, skip)
    runner = run_buildx if builder == "buildx" else run_engine_build
    digest = runner(plan, log_path, on_line)
    if not push:
        return BuildResult(plan, None, builder, log_path, None)
    digest = _confirm_pushed(plan, digest, client)
    ref = parse_image(plan.image)
    record = update_image_record(state, version, repository=manifest.image.repository, dev_tag=ref.tag,
                                 dev_digest=digest, revision=revision, source=plan.source, built_at=now(),
                                 stable_tag=manifest.stable_tag(version))
    return BuildResult(plan, digest, builder, log_path, record, skip)


def _cache_flags(manifest: Manifest, plan: BuildPlan, mode: str) -> build_cache.CacheFlags:
    if mode not in build_cache.CACHE_MODES:
        raise Refused(f"unknown build cache {mode!r}; choose one of {', '.join(build_cache.CACHE_MODES)}")
    if mode == "gha" and not build_cache.gha_available():
        raise Refused("the gha build cache needs GitHub Actions' cache service, and ACTIONS_RUNTIME_TOKEN with "
                      "ACTIONS_CACHE_URL (or ACTIONS_RESULTS_URL) is not set",
                      hints=["in a workflow, expose them to the build step (crazy-max/ghaction-github-runtime)",
                             "elsewhere: --cache inline or --cache registry"])
    driver = build_cache.buildx_driver() if mode in ("registry", "gha") else None
    return build_cache.cache_flags(mode, plan.image, push=plan.push, driver=driver,
                                   cache_ref=manifest.image.cache_ref)


def _ask_registry(client: RegistryClient, plan: BuildPlan, inputs: str, *, force: bool,
                  dry_run: bool) -> SkipDecision:
    try:
        return build_skip.check(client, plan.image, plan.platform, plan.revision, inputs, force=force)
    except RegistryError as exc:
        if not dry_run:
            raise  # the push would fail the same way, after a long build
        return SkipDecision(False, f"the registry could not be asked ({exc.message})")


def _record_existing(manifest: Manifest, state: Path, plan: BuildPlan, existing: build_skip.Existing) -> ImageRecord:
    """An up-to-date dev tag still gets its record (it may have been built elsewhere, e.g. by CI)."""
    record = read_image_record(state, plan.version)
    if record is not None and record.dev_digest == existing.digest and record.repository:
        return record
    return update_image_record(state, plan.version, repository=manifest.image.repository,
                               dev_tag=parse_image(plan.image).tag, dev_digest=existing.digest,
                               revision=plan.revision, source=plan.source, built_at=existing.created,
                               stable_tag=manifest.stable_tag(plan.version))


def _confirm_pushed(plan: BuildPlan, reported: str | None, client: RegistryClient | None) -> str:
    """The registry is the source of truth: its digest for the tag must match what the builder said."""
    ref = parse_image(plan.image)
    client = client or RegistryClient(ref.registry)
    held = client.manifest_digest(ref.repository, ref.reference)
    if held is None:
        raise Failed(f"the build reported a push, but {plan.image} is not in the registry")
    if reported and reported != held:
        raise Failed(f"the builder pushed {reported} but {plan.image} resolves to {held}; "
                           "another push may have raced this one")
    return held
