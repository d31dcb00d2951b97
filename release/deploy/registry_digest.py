"""The deploy role's registry question (which digest does this tag name?), asked through the same
client as `image status` and `promote`, so that all three treat credentials and plain HTTP alike.

Credentials, first match wins:
1. the deploy's own pair, `SKYPILOT_REGISTRY_USER` / `SKYPILOT_REGISTRY_TOKEN` (or the Vault
   variables `vault_skypilot_registry_user` / `vault_skypilot_registry_token`);
2. what `image status` and `promote` use: `ELLM_REGISTRY_USER` / `ELLM_REGISTRY_TOKEN`, then the
   Docker config (`docker login`, credential helpers);
3. none: anonymous, which public images on ghcr.io allow.

The token is never sent to the registry as a bearer token itself. It is a password: the client
answers the registry's `WWW-Authenticate` challenge by sending it, with the user name, as HTTP basic
auth to the token service named there (ghcr.io: https://ghcr.io/token), and uses the short-lived
token it gets back; a registry that asks for basic auth gets the pair directly. On ghcr.io that
means a GitHub personal access token (classic) with `read:packages`, or in GitHub Actions the job's
`GITHUB_TOKEN` with `packages: read`; any non-empty user name works there.

Plain HTTP: loopback registries, hosts in `ELLM_INSECURE_REGISTRIES`, or `image.insecure_registry:
true` in the manifest, exactly as for the CLI.
"""

from __future__ import annotations

from release.images.registry import RegistryClient, RetryPolicy
from release.images.registry_auth import Credentials
from release.images.registry_errors import NotFound, RegistryError
from release.records import InvalidImageReference, parse_image
from release.redaction import Secret

DEPLOY_TOKEN_SOURCE = "SKYPILOT_REGISTRY_TOKEN"


def deploy_credentials(user: str = "", token: str = "") -> Credentials | None:
    """The deploy's own credentials, or None to fall back to the CLI's lookup."""
    if not token:
        return None
    return Credentials(user or "token", Secret(token), DEPLOY_TOKEN_SOURCE)


def deploy_client(repository: str, *, user: str = "", token: str = "", insecure: bool = False,
                  retry: RetryPolicy | None = None) -> tuple[RegistryClient, str]:
    """A client for the registry that holds `repository`, and the repository's path in it."""
    try:
        ref = parse_image(repository)
    except InvalidImageReference as exc:
        raise RegistryError(f"cannot ask the registry about {repository!r}: {exc}") from None
    if ref.tag or ref.digest:
        raise RegistryError(f"the image repository {repository!r} must not carry a tag or digest")
    creds = deploy_credentials(user, token)
    client = RegistryClient(ref.registry, credentials=creds, lookup=creds is None, insecure=insecure, retry=retry)
    return client, ref.repository


def tag_digest(repository: str, tag: str, *, user: str = "", token: str = "", insecure: bool = False,
               retry: RetryPolicy | None = None) -> str:
    """The digest `repository:tag` names in its registry; RegistryError (one sentence) otherwise."""
    client, path = deploy_client(repository, user=user, token=token, insecure=insecure, retry=retry)
    digest = client.manifest_digest(path, tag)
    if digest is None:
        raise NotFound(f"{repository}:{tag} does not exist in {client.registry}",
                       hints=["build and push it first (`ellm-release build --push`), or check the tag"])
    return digest
