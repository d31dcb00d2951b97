"""Image signatures with cosign: `build --push` signs the -dev digest, `promote` makes sure the
stable tag verifies, and the deploy role verifies the digest it is about to deploy.

Two ways to sign, chosen by the environment (or the commands' options):

- **key**: `ELLM_COSIGN_KEY` names cosign's private key (a file, or a KMS URI such as
  `awskms://...`), with its password in `COSIGN_PASSWORD`; `ELLM_COSIGN_PUBLIC_KEY` (default: the
  public half of that key) verifies. Works offline: signatures are not uploaded to the public
  transparency log, and verifying does not ask it.
- **keyless**: `ELLM_COSIGN_KEYLESS=true` in GitHub Actions (with `permissions: id-token: write`):
  cosign gets a short-lived certificate for the workflow's OIDC identity and logs the signature
  in Rekor. Verifying checks that identity: `ELLM_COSIGN_IDENTITY` (a regular expression over the
  workflow's URL) and the issuer `https://token.actions.githubusercontent.com`.

A signature is stored in the same repository under the digest (`sha256-<hex>.sig`), so a tag that
names the same digest, as the stable tag does after `promote`, verifies with it.

Registry credentials reach cosign through a private, temporary Docker config, never its command
line. Every failure is one sentence (`SigningError`, an outside failure: exit 4).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from release.errors import Failed, Refused
from release.images.registry_auth import Credentials
from release.records import InvalidImageReference, parse_image
from release.redaction import redact

ENV_KEY = "ELLM_COSIGN_KEY"
ENV_PUBLIC_KEY = "ELLM_COSIGN_PUBLIC_KEY"
ENV_KEYLESS = "ELLM_COSIGN_KEYLESS"
ENV_IDENTITY = "ELLM_COSIGN_IDENTITY"
ENV_ISSUER = "ELLM_COSIGN_ISSUER"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
TIMEOUT = 300


class SigningError(Failed):
    """cosign failed, or a signature does not verify; the message says which and for what image."""


class Unsigned(SigningError):
    """The image has no signature that the configured key or identity accepts."""


class SigningMode(StrEnum):
    KEY = "key"  # a cosign key pair (file or KMS URI)
    KEYLESS = "keyless"  # GitHub Actions' OIDC identity
    OFF = "off"  # nothing configured: build and promote warn, and do not sign


@dataclass(frozen=True)
class SigningConfig:
    mode: SigningMode
    key: str = ""  # private key (key mode, signing)
    public_key: str = ""  # public key (key mode, verifying)
    identity: str = ""  # keyless: regular expression the certificate's identity must match
    issuer: str = GITHUB_ISSUER

    @property
    def can_verify(self) -> bool:
        return bool(self.public_key or self.key) if self.mode == SigningMode.KEY else (
            self.mode == SigningMode.KEYLESS and bool(self.identity))

    def describe(self) -> str:
        if self.mode == SigningMode.KEY:
            return f"key {self.public_key or self.key}"
        if self.mode == SigningMode.KEYLESS:
            return f"keyless, identity ~ {self.identity or '(any)'} from {self.issuer}"
        return "no signing configured"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def config_from(environ: Mapping[str, str], *, key: str | None = None, public_key: str | None = None,
                keyless: bool | None = None, identity: str | None = None) -> SigningConfig:
    """The signing configuration: explicit options first, then the ELLM_COSIGN_* environment."""
    key = key if key is not None else environ.get(ENV_KEY, "")
    public_key = public_key if public_key is not None else environ.get(ENV_PUBLIC_KEY, "")
    keyless = keyless if keyless is not None else _truthy(environ.get(ENV_KEYLESS))
    identity = identity if identity is not None else environ.get(ENV_IDENTITY, "")
    issuer = environ.get(ENV_ISSUER) or GITHUB_ISSUER
    if keyless and (key or public_key):
        raise Refused("choose one way to sign: a cosign key or keyless signing, not both",
                      hints=[f"unset {ENV_KEYLESS}, or unset {ENV_KEY} and {ENV_PUBLIC_KEY}"])
    if keyless:
        return SigningConfig(SigningMode.KEYLESS, identity=identity, issuer=issuer)
    if key or public_key:
        for path in (key, public_key):
            if path and "://" not in path and not Path(path).is_file():
                raise Refused(f"the cosign key {path} does not exist",
                              hints=["create a pair with `cosign generate-key-pair`, or point "
                                     f"{ENV_KEY} / {ENV_PUBLIC_KEY} at yours"])
        return SigningConfig(SigningMode.KEY, key=key, public_key=public_key)
    return SigningConfig(SigningMode.OFF)


# --- argv (pure) ----------------------------------------------------------------------------------

def _registry_flags(insecure_http: bool) -> list[str]:
    # cosign already speaks plain HTTP to loopback registries; elsewhere only when the user allowed it
    return ["--allow-http-registry"] if insecure_http else []


def _pins_a_digest(image: str) -> bool:
    try:
        return parse_image(image).digest is not None
    except InvalidImageReference:
        return False


def sign_argv(config: SigningConfig, image: str, *, insecure_http: bool = False) -> list[str]:
    """`cosign sign` for one digest reference (never a tag: a tag could move between push and sign)."""
    if not _pins_a_digest(image):
        raise ValueError(f"sign a digest reference (repository@sha256:...), not {image!r}")
    argv = ["cosign", "sign", "--yes", *_registry_flags(insecure_http)]
    if config.mode == SigningMode.KEY:
        # key-based signatures stay private: nothing goes to the public transparency log
        return [*argv, "--key", config.key, "--tlog-upload=false", image]
    if config.mode == SigningMode.KEYLESS:
        return [*argv, image]
    raise ValueError("signing is not configured")


def verify_argv(config: SigningConfig, image: str, public_key: str = "", *,
                insecure_http: bool = False) -> list[str]:
    argv = ["cosign", "verify", "--output", "json", *_registry_flags(insecure_http)]
    if config.mode == SigningMode.KEY:
        return [*argv, "--key", public_key or config.public_key, "--insecure-ignore-tlog=true", image]
    if config.mode == SigningMode.KEYLESS:
        return [*argv, "--certificate-identity-regexp", config.identity or ".*",
                "--certificate-oidc-issuer", config.issuer, image]
    raise ValueError("verification is not configured")


# --- running cosign -------------------------------------------------------------------------------

def cosign_path() -> str:
    found = shutil.which("cosign")
    if not found:
        raise Refused("cosign is not installed", hints=["scripts/setup.sh installs it (Debian trixie's cosign 2.5)"])
    return found


@contextmanager
def docker_config(registry: str, credentials: Credentials | None) -> Iterator[dict[str, str]]:
    """Environment for cosign: the given credentials in a private Docker config that lives only
    as long as the call; without credentials, the user's own Docker config."""
    if credentials is None:
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="ellm-cosign-") as folder:
        auth = base64.b64encode(f"{credentials.username}:{credentials.secret.reveal()}".encode()).decode()
        path = Path(folder) / "config.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps({"auths": {registry: {"auth": auth}}}), encoding="utf-8")
        yield {"DOCKER_CONFIG": folder}


def _run(argv: list[str], env: Mapping[str, str], runner: Callable[..., Any]) -> subprocess.CompletedProcess[str]:
    try:
        return runner([cosign_path(), *argv[1:]], env={**os.environ, **env}, capture_output=True, text=True,
                      timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise SigningError(f"cosign did not finish within {TIMEOUT} s ({argv[1]} {argv[-1]})") from None


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    text = (errors or lines or ["no output"])[-1]
    return redact(re.sub(r"^error:\s*", "", text, flags=re.I))


def _public_key_of(config: SigningConfig, folder: Path, env: Mapping[str, str],
                   runner: Callable[..., Any]) -> str:
    """The public key to verify with: the configured one, else the public half of the signing key."""
    if config.public_key:
        return config.public_key
    proc = _run(["cosign", "public-key", "--key", config.key], env, runner)
    if proc.returncode != 0 or "PUBLIC KEY" not in proc.stdout:
        raise SigningError(f"cosign could not read the public half of {config.key}: {_reason(proc.stderr)}",
                           hints=["check COSIGN_PASSWORD, or set ELLM_COSIGN_PUBLIC_KEY"])
    path = folder / "cosign.pub"
    path.write_text(proc.stdout, encoding="utf-8")
    return str(path)


def sign(config: SigningConfig, image: str, *, registry: str, credentials: Credentials | None = None,
         insecure_http: bool = False, runner: Callable[..., Any] = subprocess.run) -> None:
    argv = sign_argv(config, image, insecure_http=insecure_http)
    with docker_config(registry, credentials) as env:
        proc = _run(argv, env, runner)
    if proc.returncode != 0:
        raise SigningError(f"cosign could not sign {image}: {_reason(proc.stderr)}",
                           hints=["key signing needs COSIGN_PASSWORD; keyless signing needs GitHub Actions' "
                                  "OIDC token (permissions: id-token: write)"])


@dataclass(frozen=True)
class Verified:
    image: str
    digest: str
    how: str


def verify(config: SigningConfig, image: str, *, registry: str, credentials: Credentials | None = None,
           insecure_http: bool = False, runner: Callable[..., Any] = subprocess.run) -> Verified:
    """Check that `image` (a tag or a digest reference) carries a signature the configuration
    accepts; Unsigned when it has none, SigningError for anything else."""
    if not config.can_verify:
        raise Refused(f"cannot verify {image}: {config.describe()}",
                      hints=[f"set {ENV_PUBLIC_KEY} (key signing) or {ENV_KEYLESS}=true with {ENV_IDENTITY}"])
    with tempfile.TemporaryDirectory(prefix="ellm-cosign-pub-") as folder, \
            docker_config(registry, credentials) as env:
        public_key = _public_key_of(config, Path(folder), env, runner) if config.mode == SigningMode.KEY else ""
        proc = _run(verify_argv(config, image, public_key, insecure_http=insecure_http), env, runner)
    if proc.returncode != 0:
        reason = _reason(proc.stderr)
        if re.search(r"no (matching )?signatures found|no signatures|signature not found|MANIFEST_UNKNOWN",
                     proc.stderr, re.I):
            raise Unsigned(f"{image} has no signature that {config.describe()} accepts ({reason})")
        raise SigningError(f"the signature of {image} does not verify with {config.describe()}: {reason}")
    digest = ""
    try:
        found = json.loads(proc.stdout)
        digest = str(found[0]["critical"]["image"]["docker-manifest-digest"])
    except (ValueError, LookupError, TypeError):
        pass
    return Verified(image, digest, config.describe())


# --- SBOM and provenance --------------------------------------------------------------------------

def attestation_flags(driver: str | None) -> list[str]:
    """buildx flags that attach an SBOM and SLSA provenance to the pushed image. The docker driver
    cannot store attestations; the docker-container driver (CI) can."""
    if driver == "docker":
        raise Refused("buildx's docker driver cannot attach an SBOM or provenance",
                      hints=["create a docker-container builder (`docker buildx create --use "
                             "--driver docker-container`; in CI docker/setup-buildx-action does it), or build "
                             "without --attest"])
    return ["--sbom=true", "--provenance=mode=max"]


# --- what build and promote do --------------------------------------------------------------------

class SignatureAction(StrEnum):
    SIGNED = "signed"
    ALREADY_SIGNED = "already signed"  # a rerun, or an up-to-date build
    VERIFIED = "verified"
    SIGNED_AND_VERIFIED = "signed and verified"  # promote of a digest pushed before signing was set up
    NOT_SIGNED = "not signed"  # signing is off


@dataclass(frozen=True)
class SignatureOutcome:
    image: str  # what was signed or verified
    action: SignatureAction
    how: str

    def to_dict(self) -> dict[str, str]:
        return {"image": self.image, "action": self.action, "how": self.how}


def _verifies(config: SigningConfig, image: str, *, registry: str, credentials: Credentials | None,
              insecure_http: bool, runner: Callable[..., Any]) -> bool:
    """True when a signature this configuration accepts is already there; False when there is none
    or this configuration cannot check (keyless outside CI). Other failures propagate."""
    if not config.can_verify:
        return False
    try:
        verify(config, image, registry=registry, credentials=credentials, insecure_http=insecure_http,
               runner=runner)
    except Unsigned:
        return False
    return True


def ensure_signed(config: SigningConfig, image: str, *, registry: str, credentials: Credentials | None = None,
                  insecure_http: bool = False, runner: Callable[..., Any] = subprocess.run) -> SignatureOutcome:
    """Sign a pushed digest unless a signature this configuration accepts is already there (a
    rerun, an up-to-date build); nothing when signing is off."""
    if config.mode == SigningMode.OFF:
        return SignatureOutcome(image, SignatureAction.NOT_SIGNED, config.describe())
    if _verifies(config, image, registry=registry, credentials=credentials, insecure_http=insecure_http,
                 runner=runner):
        return SignatureOutcome(image, SignatureAction.ALREADY_SIGNED, config.describe())
    sign(config, image, registry=registry, credentials=credentials, insecure_http=insecure_http, runner=runner)
    return SignatureOutcome(image, SignatureAction.SIGNED, config.describe())


def ensure_verifiable(config: SigningConfig, digest_image: str, tag_image: str, *, registry: str,
                      credentials: Credentials | None = None, insecure_http: bool = False,
                      runner: Callable[..., Any] = subprocess.run) -> SignatureOutcome:
    """After promote: the stable tag must verify. Its digest is the -dev one, whose signature lives
    under the digest; a digest pushed before signing was set up is signed now (when a key can)."""
    if config.mode == SigningMode.OFF:
        return SignatureOutcome(tag_image, SignatureAction.NOT_SIGNED, config.describe())
    if _verifies(config, tag_image, registry=registry, credentials=credentials, insecure_http=insecure_http,
                 runner=runner):
        return SignatureOutcome(tag_image, SignatureAction.VERIFIED, config.describe())
    sign(config, digest_image, registry=registry, credentials=credentials, insecure_http=insecure_http,
         runner=runner)
    if config.can_verify:
        verify(config, tag_image, registry=registry, credentials=credentials, insecure_http=insecure_http,
               runner=runner)
        return SignatureOutcome(tag_image, SignatureAction.SIGNED_AND_VERIFIED, config.describe())
    return SignatureOutcome(tag_image, SignatureAction.SIGNED, config.describe())
