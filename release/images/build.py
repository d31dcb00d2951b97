"""Build the fork's image from a clean release branch, and promote its dev tag to the stable tag.

Pure policy first (what to do given what the registry and the records say), then the I/O that
carries it out. Records live at `<state dir>/images/<version>.json`; the deploy playbook reads them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from release.errors import Failed, Refused
from release.images import build_cache, build_skip, signing
from release.images.build_skip import LABEL_BUILD_INPUTS, SkipDecision
from release.images.registry import (
    ENV_TOKEN,
    ENV_USER,
    NotFound,
    RegistryClient,
    RegistryError,
    image_labels,
)
from release.manifest.model import Manifest
from release.progress import Say, say_nothing
from release.records import ImageRef, parse_image, read_json, write_json
from release.redaction import redact, strip_url_credentials
from release.repo.gitrepo import switch_hint
from release.smoke.record import SmokeRecord, gate_verdict

BUILDX_HINT = (
    "buildx is missing: run sudo scripts/setup.sh, which copies Debian trixie's docker-buildx into "
    "/usr/local/lib/docker/cli-plugins/docker-buildx (or install the docker-buildx-plugin package "
    "from Docker's apt repository)"
)

LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_VERSION = "org.opencontainers.image.version"
BUILDERS = ("buildx", "engine")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- pure policy ----------------------------------------------------------------------------------

class Action(StrEnum):
    COPY = "copy"  # stable tag absent: copy the dev manifest to it
    ALREADY = "already-promoted"  # stable tag already holds this digest: nothing to do
    RETAG = "force-retag"  # stable tag holds another digest and the user forced a move
    REFUSE = "refuse"  # stable tag holds another digest: write-once says no


@dataclass(frozen=True)
class PromotePlan:
    action: Action
    dev_digest: str
    stable_digest: str | None
    warning: str | None = None

    @property
    def writes(self) -> bool:
        return self.action in (Action.COPY, Action.RETAG)


def plan_promotion(dev_digest: str, stable_digest: str | None, *, force_retag: bool = False) -> PromotePlan:
    """The write-once rule for stable tags."""
    if stable_digest is None:
        return PromotePlan(Action.COPY, dev_digest, None)
    if stable_digest == dev_digest:
        return PromotePlan(Action.ALREADY, dev_digest, stable_digest)
    if force_retag:
        return PromotePlan(Action.RETAG, dev_digest, stable_digest,
                           warning=f"--force-retag moves the stable tag from {stable_digest} to {dev_digest}; "
                                   "anything deployed by the old tag will change on its next pull")
    return PromotePlan(Action.REFUSE, dev_digest, stable_digest)


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    reason: str
    skipped: bool = False
    warning: str | None = None


def smoke_gate(digest: str, record: SmokeRecord | None, *, skip: bool = False, why_not: str | None = None
               ) -> GateDecision:
    """Only a passing smoke run for this very digest opens the gate; skipping is loud and recorded.
    `why_not` is the smoke record's own reason when it holds no pass (damaged, other tier, failed)."""
    if record is not None and record.passed is True and record.digest == digest:
        return GateDecision(True, f"smoke test passed for {digest} (tier {record.tier}, {record.time})")
    if skip:
        return GateDecision(True, "smoke gate skipped", skipped=True,
                            warning=f"--skip-smoke-gate: promoting {digest} without a passing smoke test; "
                                    "this is written to the image record")
    return GateDecision(False, why_not or f"no passing smoke test is recorded for {digest}")


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


# --- records --------------------------------------------------------------------------------------

RECORD_KEYS = ("version", "repository", "dev_tag", "dev_digest", "revision", "source", "built_at",
               "stable_tag", "stable_digest", "promoted_at", "smoke_gate_skipped")


def record_path(state: Path, version: str) -> Path:
    return state / "images" / f"{version}.json"


def read_record(state: Path, version: str) -> dict[str, Any] | None:
    data = read_json(record_path(state, version))
    return data if isinstance(data, dict) else None


def update_record(state: Path, version: str, **fields: Any) -> dict[str, Any]:
    """Merge fields into the version's record (every key always present, unknown ones kept)."""
    record: dict[str, Any] = dict.fromkeys(RECORD_KEYS)
    record.update(read_record(state, version) or {})
    record.update(fields)
    record["version"] = version
    write_json(record_path(state, version), record)
    return record


# --- the fork working copy ------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def clean_branch_revision(repo: Path, branch: str) -> str:
    """The fork commit to build: the head of `branch`, once the working copy is found to be a clean
    checkout of it (refused otherwise)."""
    if not (repo / ".git").exists() and _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise Refused(f"{repo} is not a git working copy of the fork",
                      hints=["point --repo at the fork's working copy (default: skypilot/)"])
    head = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD").stdout.strip()
    if head != branch:
        where = f"on {head!r}" if head else "on a detached HEAD"
        raise Refused(f"{repo} is {where}, not on {branch}; a release image is built from the branch head",
                      hints=[switch_hint(repo, branch)])
    dirty = _git(repo, "status", "--porcelain", "--untracked-files=normal").stdout.splitlines()
    if dirty:
        shown = ", ".join(line[3:] for line in dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise Refused(f"{repo} has uncommitted changes ({shown}); the image would not match any commit",
                      hints=["commit or stash them, then build again"])
    return _git(repo, "rev-parse", "HEAD").stdout.strip()


# --- build ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuildResult:
    plan: BuildPlan
    digest: str | None  # the manifest digest in the registry (None when not pushed)
    builder: str
    log_path: Path
    record: dict[str, Any] | None
    skip: SkipDecision | None = None  # what the registry said before building (pushes only)

    @property
    def up_to_date(self) -> bool:
        return self.skip is not None and self.skip.up_to_date


def buildx_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False).returncode == 0


def _stream(argv: list[str], log_path: Path, on_line: Callable[[str], None],
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


def run_buildx(plan: BuildPlan, log_path: Path, on_line: Callable[[str], None]) -> str | None:
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


def run_engine_build(plan: BuildPlan, log_path: Path, on_line: Callable[[str], None]) -> str | None:
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


def _engine_chunk(chunk: Mapping[str, Any], emit: Callable[[str], None], stage: str) -> str | None:
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
          builder: str = "buildx", dry_run: bool = False, on_line: Callable[[str], None] = lambda _: None,
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
    log_path = state / "images" / f"{version}.build.log"
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
    record = update_record(state, version, repository=manifest.image.repository, dev_tag=ref.tag,
                           dev_digest=digest, revision=revision, source=plan.source, built_at=_now(),
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


def _record_existing(manifest: Manifest, state: Path, plan: BuildPlan, existing: build_skip.Existing) -> dict[str, Any]:
    """An up-to-date dev tag still gets its record (it may have been built elsewhere, e.g. by CI)."""
    record = read_record(state, plan.version)
    if record is not None and record.get("dev_digest") == existing.digest and record.get("repository"):
        return record
    return update_record(state, plan.version, repository=manifest.image.repository,
                         dev_tag=parse_image(plan.image).tag, dev_digest=existing.digest, revision=plan.revision,
                         source=plan.source, built_at=existing.created, stable_tag=manifest.stable_tag(plan.version))


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


# --- promote --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PromoteResult:
    plan: PromotePlan
    dev_image: str
    stable_image: str
    gate: GateDecision | None
    record: dict[str, Any] | None
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.plan.action.value, "dev_image": self.dev_image, "stable_image": self.stable_image,
                "dev_digest": self.plan.dev_digest, "stable_digest_before": self.plan.stable_digest,
                "stable_digest": self.plan.dev_digest if self.plan.writes and not self.dry_run
                else self.plan.stable_digest,
                "smoke_gate": None if self.gate is None else dataclasses.asdict(self.gate),
                "warning": self.plan.warning, "dry_run": self.dry_run}


def promote(manifest: Manifest, state: Path, *, version: str | None = None, client: RegistryClient | None = None,
            force_retag: bool = False, skip_smoke_gate: bool = False, dry_run: bool = False,
            say: Say = say_nothing,
            smoke_tiers: tuple[str, ...] = ()) -> PromoteResult:
    """Copy the dev tag's manifest (or index) to the stable tag inside the registry, write-once.
    `smoke_tiers`: the smoke tiers whose pass counts (any tier when empty)."""
    version = version or manifest.version
    dev = parse_image(manifest.dev_image(version))
    stable = parse_image(manifest.stable_image(version))
    client = client or RegistryClient(dev.registry)
    try:
        dev_doc = client.get_manifest(dev.repository, dev.reference)
    except NotFound:
        raise Refused(f"the dev tag {dev} does not exist; nothing to promote",
                      hints=[f"build and push it first: ellm-release build --version {version} --push"]) from None
    stable_digest = client.manifest_digest(stable.repository, stable.reference)
    plan = plan_promotion(dev_doc.digest, stable_digest, force_retag=force_retag)
    result = PromoteResult(plan, str(dev), str(stable), None, read_record(state, version), dry_run)
    if plan.action is Action.ALREADY:
        if not dry_run:  # a run that died after its PUT left the record behind: catch it up
            result = dataclasses.replace(result, record=_catch_up_record(client, manifest, state, version, stable,
                                                                         dev_doc.digest))
        return result
    if plan.action is Action.REFUSE:
        raise Refused(f"{stable} already points at {stable_digest}, not at {dev}'s {dev_doc.digest}; "
                      "stable tags are write-once",
                      hints=["build a new version, or move the tag on purpose with --force-retag"])
    evidence = gate_verdict(state, dev_doc.digest, smoke_tiers)
    gate = smoke_gate(dev_doc.digest, evidence.record, skip=skip_smoke_gate, why_not=evidence.reason)
    if not gate.allowed:
        raise Refused(f"refusing to promote {dev}: {gate.reason}",
                      hints=["run the smoke tests on this digest (ansible-playbook playbooks/smoke.yml), "
                             "or pass --skip-smoke-gate to promote anyway (recorded)"])
    result = dataclasses.replace(result, gate=gate)
    if dry_run:
        return result
    for warning in (plan.warning, gate.warning):
        if warning:
            say(f"warning: {warning}")
    client.put_manifest(stable.repository, stable.reference, dev_doc)
    verify_same_digest(client, dev, stable, dev_doc.digest)
    record = update_record(state, version, **_dev_fields(client, manifest, version, dev_doc.digest, state),
                           stable_tag=stable.tag, stable_digest=dev_doc.digest, promoted_at=_now(),
                           smoke_gate_skipped=gate.skipped)
    return dataclasses.replace(result, record=record)


def _catch_up_record(client: RegistryClient, manifest: Manifest, state: Path, version: str, stable: ImageRef,
                     digest: str) -> dict[str, Any] | None:
    record = read_record(state, version)
    if record is not None and record.get("stable_digest") == digest and record.get("repository"):
        return record
    # the build half too (repository, dev tag and digest, labels): the deploy role only trusts a
    # record that names the repository and the tag it pins
    return update_record(state, version, **_dev_fields(client, manifest, version, digest, state),
                         stable_tag=stable.tag, stable_digest=digest,
                         promoted_at=(record or {}).get("promoted_at") or _now())


def verify_same_digest(client: RegistryClient, dev: ImageRef, stable: ImageRef, digest: str) -> None:
    got = {str(ref): client.manifest_digest(ref.repository, ref.reference) for ref in (dev, stable)}
    if set(got.values()) != {digest}:
        shown = ", ".join(f"{name} -> {value or 'absent'}" for name, value in got.items())
        raise Failed(f"after the copy the tags disagree ({shown}); expected both at {digest}",
                           hints=["someone may have pushed during the promotion; run image status"])


def _dev_fields(client: RegistryClient, manifest: Manifest, version: str, digest: str,
                state: Path) -> dict[str, Any]:
    """Fill the build half of the record when the image was built elsewhere (e.g. by CI)."""
    existing = read_record(state, version) or {}
    if existing.get("dev_digest") == digest:
        return {}
    dev = parse_image(manifest.dev_image(version))
    labels = _labels_or_empty(client, dev.repository, digest, manifest.image.platform)
    return {"repository": manifest.image.repository, "dev_tag": dev.tag, "dev_digest": digest,
            "revision": labels.get(LABEL_REVISION), "source": _bare_url(labels.get(LABEL_SOURCE)),
            "built_at": existing.get("built_at") if existing.get("dev_digest") == digest else None}


def _bare_url(url: str | None) -> str | None:
    # a label written by some other build may carry a token in its URL: the record never does
    return strip_url_credentials(url) if url else url


def _labels_or_empty(client: RegistryClient, repository: str, reference: str, platform: str) -> dict[str, str]:
    try:
        return image_labels(client.image_config(repository, reference, platform))
    except (NotFound, Failed):
        return {}


# --- status ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TagStatus:
    image: str
    digest: str | None
    revision: str | None
    version: str | None
    media_type: str | None


def tag_status(client: RegistryClient, image: str, platform: str) -> TagStatus:
    ref = parse_image(image)
    try:
        doc = client.get_manifest(ref.repository, ref.reference)
    except NotFound:
        return TagStatus(image, None, None, None, None)
    labels = _labels_or_empty(client, ref.repository, doc.digest, platform)
    return TagStatus(image, doc.digest, labels.get(LABEL_REVISION), labels.get(LABEL_VERSION), doc.media_type)


def image_status(manifest: Manifest, state: Path, *, version: str | None = None,
                 client: RegistryClient | None = None) -> dict[str, Any]:
    version = version or manifest.version
    dev_image, stable_image = manifest.dev_image(version), manifest.stable_image(version)
    client = client or RegistryClient(parse_image(dev_image).registry)
    dev = tag_status(client, dev_image, manifest.image.platform)
    stable = tag_status(client, stable_image, manifest.image.platform)
    record = read_record(state, version)
    return {"version": version, "dev": dataclasses.asdict(dev), "stable": dataclasses.asdict(stable),
            "promoted": dev.digest is not None and dev.digest == stable.digest,
            "record": record, "notes": list(status_notes(dev, stable, record))}


def status_notes(dev: TagStatus, stable: TagStatus, record: Mapping[str, Any] | None) -> Iterator[str]:
    """Disagreements between the registry and the local record worth a human's attention."""
    if dev.digest is None:
        yield f"{dev.image} does not exist: run build --push"
    if stable.digest is None and dev.digest is not None:
        yield f"{stable.image} does not exist yet: promote when the smoke tests pass"
    if stable.digest and dev.digest and stable.digest != dev.digest:
        yield "the dev tag has moved on since the promotion (a rebuild after release)"
    if record and record.get("dev_digest") and dev.digest and record["dev_digest"] != dev.digest:
        yield f"the record says the dev tag was {record['dev_digest']}, the registry says {dev.digest}"
    if record and record.get("stable_digest") and stable.digest != record["stable_digest"]:
        yield f"the record says the stable tag is {record['stable_digest']}, the registry says {stable.digest}"
