"""`build`, `promote` and `image status`: the image half of a release."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from release.cli.examples import examples
from release.cli.output import Options, pass_options
from release.images import build as images
from release.images import promote as promotion
from release.images import signing
from release.images.build_cache import CACHE_MODES
from release.images.record import update_image_record
from release.images.registry import RegistryClient
from release.images.registry_auth import insecure_allowed
from release.images.status import image_status
from release.manifest.model import Manifest, load_manifest
from release.manifest.versions import InvalidVersion, parse_version
from release.progress import Say
from release.records import image_record_path, parse_image, state_dir
from release.repo.gitrepo import try_open
from release.repo.repolock import writing

STEP_RE = re.compile(r"^#\d+ (\[.*|pushing .*|exporting .*|DONE .*|ERROR.*|CACHED)$")

def _release_version(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --version that could never name an image tag is bad input: refused before any request."""
    if value is not None:
        try:
            parse_version(value)
        except InvalidVersion as exc:
            raise click.BadParameter(str(exc)) from None
    return value


version_option = click.option("--version", "version", metavar="X.Y.Z", callback=_release_version,
                              help="Release version (default: the manifest's upstream.version).")
insecure_option = click.option("--insecure-registry", is_flag=True,
                               help="Allow plain HTTP to a non-loopback registry (loopback always may). "
                                    "Also: ELLM_INSECURE_REGISTRIES=host:port,...")


sign_key_option = click.option("--sign-key", metavar="KEY", default=None,
                               help="cosign private key (file or KMS URI) to sign with; password in COSIGN_PASSWORD. "
                                    "Default: $ELLM_COSIGN_KEY.")
keyless_option = click.option("--keyless", is_flag=True, default=None,
                              help="Sign keyless with GitHub Actions' OIDC identity (needs id-token: write). "
                                   "Default: $ELLM_COSIGN_KEYLESS.")


def _signing(key: str | None, keyless: bool | None) -> signing.SigningConfig:
    return signing.config_from(os.environ, key=key, keyless=keyless or None)


def _say_signature(opts: Options, outcome: signing.SignatureOutcome) -> None:
    if outcome.action is signing.SignatureAction.NOT_SIGNED:
        opts.say(f"warning: {outcome.image} is not signed ({outcome.how}): set {signing.ENV_KEY} (with "
                 f"COSIGN_PASSWORD), or {signing.ENV_KEYLESS}=true in GitHub Actions", style="yellow")
    else:
        opts.say(f"{outcome.action}: {outcome.image} ({outcome.how})")


@contextmanager
def build_guard(fork_dir: Path) -> Iterator[None]:
    """The repository lock, refused while a rebase is in progress (it would build a half-made
    branch). A path that is no git repository is left to `images.build` to refuse."""
    repo = try_open(fork_dir)
    if repo is None:
        yield
        return
    with writing(repo, "build"):
        yield


def _context(opts: Options) -> tuple[Manifest, Path]:
    """The manifest and the state directory beside it."""
    return load_manifest(opts.manifest), state_dir(opts.manifest)


def _client(opts: Options, manifest: Manifest, insecure: bool) -> RegistryClient:
    registry = parse_image(manifest.image.repository + ":x").registry
    insecure = insecure or manifest.image.insecure_registry
    return RegistryClient(registry, insecure=insecure, on_retry=lambda msg: opts.say(f"retry: {msg}", style="yellow"))


def _progress(opts: Options) -> tuple[Say, Callable[[], None]]:
    """A live one-line status on a terminal; the build's step lines otherwise (CI logs)."""
    if opts.verbose:
        return (lambda line: opts.say(line)), (lambda: None)
    if opts.console.is_terminal:
        status = opts.console.status("building")
        status.start()

        def update(line: str) -> None:
            if line.strip():
                status.update(f"building: {line[:100]}")
        return update, status.stop

    def steps(line: str) -> None:
        if STEP_RE.match(line):
            opts.say(line)
    return steps, (lambda: None)


@examples(
    "ellm-release build --push                      build and push :v<version>-dev from the fork branch",
    "ellm-release --repo ../skypilot build --version 0.13.0 --push",
    "ellm-release build --builder engine --push     use the Docker engine's builder (no buildx)",
    "ellm-release build --push --force              rebuild even when the dev tag is up to date",
    "ellm-release build --push --sign-key cosign.key   sign the -dev digest (password in COSIGN_PASSWORD)",
)
@click.command("build")
@version_option
@click.option("--push", is_flag=True, help="Push the dev tag and record its digest. Asks the registry first: "
              "a dev tag built from the branch head with the same Dockerfile, build args and platform is "
              "left as it is (\"up to date\").")
@click.option("--force", is_flag=True, help="Rebuild and push even when the dev tag is up to date.")
@click.option("--cache", type=click.Choice(CACHE_MODES), default=None,
              help="Where buildx imports and exports its layer cache (default: the manifest's image.cache, "
                   "else inline); the workflow passes gha.")
@click.option("--builder", type=click.Choice(images.BUILDERS), default="buildx", show_default=True,
              help="buildx (docker buildx build), or engine: the daemon's classic builder via the Docker SDK.")
@click.option("--attest", is_flag=True, envvar="ELLM_BUILD_ATTEST",
              help="Attach an SBOM and SLSA provenance to the pushed image (buildx with the docker-container "
                   "driver, as in CI). Default: $ELLM_BUILD_ATTEST.")
@sign_key_option
@keyless_option
@insecure_option
@pass_options
def build_cmd(opts: Options, version: str | None, push: bool, force: bool, cache: str | None, builder: str,
              attest: bool, sign_key: str | None, keyless: bool | None, insecure_registry: bool) -> None:
    """Build the fork's image from a clean ellm-VERSION checkout and tag it with the dev tag.
    With --push, the -dev digest is signed with cosign when a key or keyless signing is set up."""
    manifest, state = _context(opts)
    version = version or manifest.version
    signer = _signing(sign_key, keyless)  # a missing key file is refused before the build
    client = _client(opts, manifest, insecure_registry)
    with build_guard(opts.repo):  # nothing may move the checkout while it is built
        on_line, done = _progress(opts)
        try:
            result = images.build(manifest, opts.repo, state, version=version, push=push, builder=builder,
                                  dry_run=opts.dry_run, on_line=on_line, client=client, force=force,
                                  cache=cache, attest=attest)
        finally:
            done()
    plan = result.plan
    data: dict[str, Any] = {"version": version, "image": plan.image, "revision": plan.revision,
                            "builder": builder, "pushed": push and not opts.dry_run and not result.up_to_date,
                            "digest": result.digest, "up_to_date": result.up_to_date,
                            "rebuild_reason": None if result.skip is None or result.up_to_date else result.skip.reason,
                            "cache": {"from": list(plan.cache.cache_from), "to": list(plan.cache.cache_to),
                                      "note": plan.cache.note},
                            "labels": dict(plan.labels), "platform": plan.platform, "dry_run": opts.dry_run,
                            "log": str(result.log_path),
                            "record": str(image_record_path(state, version)) if result.record else None,
                            "attestations": list(plan.attestations), "signature": None}
    signature: signing.SignatureOutcome | None = None
    if push and result.digest and not opts.dry_run:
        ref = parse_image(plan.image)
        signature = signing.ensure_signed(signer, f"{ref.registry}/{ref.repository}@{result.digest}",
                                          registry=ref.registry, credentials=client.credentials,
                                          insecure_http=insecure_allowed(ref.registry, insecure_registry
                                                                         or manifest.image.insecure_registry))
        data["signature"] = signature.to_dict()
        if signature.action is not signing.SignatureAction.NOT_SIGNED:
            update_image_record(state, version, dev_signature=signature.how)
    if plan.cache.note and not result.up_to_date:
        opts.say(f"note: {plan.cache.note}", style="yellow")
    if result.up_to_date:
        opts.say(f"up to date: {plan.image}@{result.digest} was built from {plan.revision[:12]} with the "
                 "same Dockerfile, build args and platform; nothing rebuilt (--force rebuilds)")
        if result.record:
            opts.say(f"recorded in {image_record_path(state, version)}")
    elif opts.dry_run:
        opts.say(f"would build {plan.image} from {plan.revision[:12]} ({plan.platform}, {plan.dockerfile})")
        if builder == "buildx":
            opts.say("  " + " ".join(images.buildx_argv(plan, Path("<metadata.json>"))))
        if result.skip:
            opts.say(f"  built because {result.skip.reason}")
    elif result.digest:
        opts.say(f"pushed {plan.image}@{result.digest} (fork commit {plan.revision[:12]})")
        if result.skip:
            opts.say(f"  built because {result.skip.reason}")
        opts.say(f"recorded in {image_record_path(state, version)}")
    else:
        opts.say(f"built {plan.image} locally (not pushed: add --push to publish and record it)")
    if signature is not None:
        _say_signature(opts, signature)
    opts.emit(data)


@examples(
    "ellm-release promote                          :v<version>-dev -> :v<version>, same digest",
    "ellm-release promote --version 0.13.0 --dry-run",
    "ellm-release promote --smoke-tier real-nvidia   only a pass on a real NVIDIA cluster opens the gate",
    "ellm-release promote --skip-smoke-gate        promote without a smoke record (warned, recorded)",
    "ellm-release promote --sign-key cosign.key    check the stable tag's signature, signing the digest if needed",
)
@click.command("promote")
@version_option
@click.option("--force-retag", is_flag=True, help="Move an existing stable tag to the dev digest (warned).")
@click.option("--skip-smoke-gate", is_flag=True, help="Promote without a passing smoke record (warned, recorded).")
@click.option("--smoke-tier", "smoke_tiers", multiple=True, metavar="TIER",
              help="Require the smoke pass to come from this tier (kind, real-nvidia, real-amd, real-mixed); "
                   "repeat for any of several. Default: any tier.")
@sign_key_option
@keyless_option
@insecure_option
@pass_options
def promote_cmd(opts: Options, version: str | None, force_retag: bool, skip_smoke_gate: bool,
                smoke_tiers: tuple[str, ...], sign_key: str | None, keyless: bool | None,
                insecure_registry: bool) -> None:
    """Copy the dev tag's manifest to the stable tag inside the registry: no pull, no rebuild,
    digest unchanged. Stable tags are write-once. With signing set up, the stable tag is then
    verified with cosign (its digest signed first if the build was not)."""
    manifest, state = _context(opts)
    signer = _signing(sign_key, keyless)
    client = _client(opts, manifest, insecure_registry)
    result = promotion.promote(manifest, state, version=version, client=client,
                            force_retag=force_retag, skip_smoke_gate=skip_smoke_gate, dry_run=opts.dry_run,
                            say=opts.say, smoke_tiers=smoke_tiers)
    plan = result.plan
    if plan.action is promotion.Action.ALREADY:
        opts.say(f"already promoted: {result.stable_image} is {plan.dev_digest}")
    elif opts.dry_run:
        opts.say(f"would copy {result.dev_image} ({plan.dev_digest}) to {result.stable_image}"
                 + (f", replacing {plan.stable_digest}" if plan.stable_digest else ""))
        if result.gate and result.gate.warning:
            opts.say(f"warning: {result.gate.warning}", style="yellow")
    else:
        opts.say(f"promoted {result.dev_image} -> {result.stable_image}")
        opts.say(f"  digest {plan.dev_digest} (both tags verified)")
    data = result.to_dict()
    if not opts.dry_run:
        ref = parse_image(result.stable_image)
        outcome = signing.ensure_verifiable(
            signer, f"{ref.registry}/{ref.repository}@{plan.dev_digest}", result.stable_image,
            registry=ref.registry, credentials=client.credentials,
            insecure_http=insecure_allowed(ref.registry, insecure_registry or manifest.image.insecure_registry))
        data["signature"] = outcome.to_dict()
        if outcome.action is not signing.SignatureAction.NOT_SIGNED:
            update_image_record(state, version or manifest.version, stable_signature=outcome.how)
        _say_signature(opts, outcome)
    opts.emit(data)


@examples("ellm-release image status --version 0.13.0 --json")
@click.group("image")
def image_group() -> None:
    """Inspect the release images in the registry."""


@examples(
    "ellm-release image status",
    "ellm-release --json image status --version 0.13.0",
)
@image_group.command("status")
@version_option
@insecure_option
@pass_options
def status_cmd(opts: Options, version: str | None, insecure_registry: bool) -> None:
    """Both tags, their digests, and the fork commit each was built from (read-only)."""
    manifest, state = _context(opts)
    data = image_status(manifest, state, version=version,
                               client=_client(opts, manifest, insecure_registry))
    table = Table(title=f"images for {data['version']}")
    table.add_column("tag")
    table.add_column("digest", no_wrap=True, min_width=71)  # a digest is copied whole or not at all
    table.add_column("fork commit")
    table.add_column("version label")
    for key in ("dev", "stable"):
        row = data[key]
        table.add_row(row["image"], row["digest"] or Text("absent", style="red"), (row["revision"] or "-")[:12],
                      row["version"] or "-")
    opts.say(table)
    opts.say("promoted: dev and stable are the same digest" if data["promoted"] else "not promoted")
    for note in data["notes"]:
        opts.say(f"  note: {note}")
    opts.emit(data)

