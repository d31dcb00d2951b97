"""A small client for the OCI distribution API: resolve a tag, read manifests and blobs, put a
manifest under another tag. Enough to promote an image inside a registry without moving a layer.

Works with ghcr.io and any registry that speaks the distribution spec: anonymous access, HTTP basic
auth and bearer tokens (the `WWW-Authenticate` challenge flow), with the credentials and the
plain-HTTP rule of release/images/registry_auth.py. This module is the transport: retries with
backoff, a deadline per request and per command, the token exchange, and the few API calls the tool
makes; the manifests it reads are checked by release/images/manifests.py. Every message that
leaves it goes through `redact()`.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from release.images.manifests import ACCEPT, ManifestDoc, parse_manifest, pick_platform, sha256_digest
from release.images.registry_auth import (
    DOCKER_HUB_API,
    ENV_TOKEN,
    ENV_USER,
    Challenge,
    Credentials,
    credentials_for,
    insecure_allowed,
    parse_challenges,
)
from release.images.registry_errors import (
    AuthError,
    MalformedResponse,
    NotFound,
    RegistryError,
    RegistryUnavailable,
)
from release.progress import Say
from release.records import DOCKER_HUB, is_digest
from release.redaction import Secret, redact, register_secret

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # total tries, the first included
    backoff: float = 0.5  # seconds before the 2nd try; doubles each time, with jitter
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_delay)
        base = min(self.backoff * (2 ** attempt), self.max_delay)
        return base * (0.8 + 0.4 * random.random())


def _describe(exc: BaseException) -> str:
    """A short reason for a network failure, without URLs or headers."""
    text = str(exc).lower()
    if text.startswith("no complete answer"):  # the deadline of `within`
        return str(exc)
    for needle, reason in (("refused", "connection refused"), ("reset", "connection reset"),
                           ("timed out", "timed out"), ("aborted", "connection aborted"),
                           ("name or service", "unknown host"), ("remotedisconnected", "connection closed"),
                           ("certificate", "TLS certificate error")):
        if needle in text:
            return reason
    return type(exc).__name__


REQUEST_DEADLINE_S = 120.0  # one request, answer included
DEADLINE_S = 900.0  # every request of one client (one command) together


def within(seconds: float, call: Callable[[], requests.Response]) -> requests.Response:
    """`call()`, or requests.Timeout when it has not returned after `seconds`. It runs in a daemon
    thread: a stuck transfer is left to die with the process instead of holding the command."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            response = call()
            _ = response.content  # the whole body, inside the deadline
            box["response"] = response
        except BaseException as exc:  # handed over to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="registry-request", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise requests.Timeout(f"no complete answer within {seconds:.0f}s")
    if "error" in box:
        raise box["error"]
    return box["response"]


class RegistryClient:
    """One registry, one set of credentials, tokens cached per scope."""

    def __init__(self, registry: str, *, credentials: Credentials | None = None, lookup: bool = True,
                 insecure: bool = False, retry: RetryPolicy | None = None, timeout: float = 30.0,
                 session: requests.Session | None = None, on_retry: Say | None = None,
                 request_deadline: float = REQUEST_DEADLINE_S, deadline: float = DEADLINE_S):
        self.registry = registry
        api_host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
        scheme = "http" if insecure_allowed(registry, insecure) else "https"
        self.base_url = f"{scheme}://{api_host}"
        self.credentials = credentials if credentials is not None else (
            credentials_for(registry) if lookup else None)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        # `timeout` bounds each wait for a byte; a registry that trickles one byte a second never
        # trips it, so each request also has a deadline for its whole answer, and all of them one
        self.request_deadline = request_deadline
        self.deadline = time.monotonic() + deadline
        self.deadline_s = deadline
        self.session = session or requests.Session()
        self.session.trust_env = False  # a proxy from the environment must not see our tokens by surprise
        self.on_retry = on_retry
        self._tokens: dict[str, Secret] = {}
        self._basic = False

    # -- transport --

    def _auth_header(self, scope: str) -> dict[str, str]:
        if scope in self._tokens:
            return {"Authorization": f"Bearer {self._tokens[scope].reveal()}"}
        if self._basic and self.credentials is not None:
            return {"Authorization": self.credentials.basic_header()}
        return {}

    def _send_once(self, method: str, path: str, scope: str, headers: Mapping[str, str],
                   data: bytes | None) -> requests.Response:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RegistryUnavailable(
                f"{self.registry} did not finish answering within {self.deadline_s:.0f}s in all; gave up at "
                f"{method} {path}", hints=["check that the registry is up and reachable, then run the command again"])
        return within(min(self.request_deadline, left), lambda: self.session.request(
            method, self.base_url + path, headers={**headers, **self._auth_header(scope)}, data=data,
            timeout=self.timeout, allow_redirects=True))

    def request(self, method: str, path: str, *, scope: str, headers: Mapping[str, str] | None = None,
                data: bytes | None = None) -> requests.Response:
        """Send with auth and retries. Returns any final response below 500 except 401/429."""
        headers = dict(headers or {})
        last = ""
        authenticated = False
        attempt = 0
        while attempt < self.retry.attempts:
            try:
                resp = self._send_once(method, path, scope, headers, data)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = _describe(exc)
                self._pause(attempt, None, method, path, last)
                attempt += 1
                continue
            if resp.status_code == 401 and not authenticated:
                self._authenticate(resp, scope)
                authenticated = True
                continue  # the retry with credentials is not a failure attempt
            if resp.status_code == 401:
                raise AuthError(self._denied_message(resp), hints=self._auth_hints())
            if resp.status_code in RETRY_STATUSES:
                last = f"HTTP {resp.status_code}"
                self._pause(attempt, resp.headers.get("Retry-After"), method, path, last)
                attempt += 1
                continue
            return resp
        raise RegistryUnavailable(
            f"{self.registry} did not answer {method} {path} after {self.retry.attempts} attempts (last: {last})",
            hints=["check that the registry is up and reachable, then run the command again"])

    def _pause(self, attempt: int, retry_after: str | None, method: str, path: str, reason: str) -> None:
        if attempt + 1 >= self.retry.attempts:
            return
        delay = self.retry.delay(attempt, retry_after)
        if self.on_retry:
            self.on_retry(f"{method} {path}: {reason}; retrying in {delay:.1f}s")
        time.sleep(delay)

    def _authenticate(self, resp: requests.Response, scope: str) -> None:
        challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None and bearer.params.get("realm"):
            self._tokens[scope] = self._fetch_token(bearer, scope)
        elif basic is not None:
            if self.credentials is None:
                raise AuthError(f"{self.registry} requires a login and no credentials were found",
                                hints=self._auth_hints())
            self._basic = True
        else:
            raise AuthError(f"{self.registry} answered 401 without a challenge this tool understands",
                            hints=self._auth_hints())

    def _fetch_token(self, challenge: Challenge, scope: str) -> Secret:
        realm = challenge.params["realm"]
        if not realm.startswith("https://") and not insecure_allowed(_host_of(realm)):
            raise AuthError(f"{self.registry} sent a token realm over plain HTTP on a non-loopback host; refusing "
                            "to send credentials there")
        params = {"scope": scope}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        creds = self.credentials
        for attempt in range(self.retry.attempts):
            try:
                if creds is not None and creds.identity_token:
                    resp = self.session.post(realm, data={**params, "grant_type": "refresh_token",
                                                          "client_id": "ellm-release",
                                                          "refresh_token": creds.secret.reveal()},
                                             timeout=self.timeout)
                else:
                    headers = {"Authorization": creds.basic_header()} if creds else {}
                    resp = self.session.get(realm, params=params, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._pause(attempt, None, "GET", "token", _describe(exc))
                continue
            if resp.status_code in RETRY_STATUSES:
                self._pause(attempt, resp.headers.get("Retry-After"), "GET", "token", f"HTTP {resp.status_code}")
                continue
            if resp.status_code in (401, 403):
                raise AuthError(self._denied_message(resp, token=True), hints=self._auth_hints())
            try:
                data = resp.json()
                token = str(data.get("token") or data.get("access_token") or "")
            except ValueError:
                token = ""
            if resp.status_code != 200 or not token:
                raise MalformedResponse(f"the token service of {self.registry} answered HTTP {resp.status_code} "
                                        "without a token")
            register_secret(token)
            return Secret(token)
        raise RegistryUnavailable(f"the token service of {self.registry} did not answer after "
                                  f"{self.retry.attempts} attempts")

    def _denied_message(self, resp: requests.Response, token: bool = False) -> str:
        who = f"user {self.credentials.username!r} (from {self.credentials.source})" if self.credentials else \
            "anonymous access"
        what = "the token service of " if token else ""
        return redact(f"{what}{self.registry} refused {who}: HTTP {resp.status_code}")

    def _auth_hints(self) -> list[str]:
        return [f"set {ENV_USER} and {ENV_TOKEN}, or run `docker login {self.registry}`",
                "the token needs read and write access to packages (write:packages on ghcr.io)"]

    # -- the API --

    def check_status(self, resp: requests.Response, what: str, ok: Iterable[int] = (200,)) -> None:
        if resp.status_code in ok:
            return
        if resp.status_code == 404:
            raise NotFound(f"{what} does not exist in {self.registry}")
        if resp.status_code == 403:
            raise AuthError(redact(f"{self.registry} denied {what} (HTTP 403)"), hints=self._auth_hints())
        detail = _error_detail(resp)
        raise RegistryError(redact(f"{self.registry} answered HTTP {resp.status_code} to {what}{detail}"))

    def get_manifest(self, repository: str, reference: str) -> ManifestDoc:
        scope = f"repository:{repository}:pull"
        what = f"{repository}:{reference}" if not is_digest(reference) else f"{repository}@{reference}"
        resp = self.request("GET", f"/v2/{repository}/manifests/{reference}", scope=scope,
                            headers={"Accept": ACCEPT})
        self.check_status(resp, what)
        return parse_manifest(resp.content, resp.headers.get("Content-Type", ""),
                              resp.headers.get("Docker-Content-Digest"), reference)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at, or None when the tag does not exist."""
        try:
            return self.get_manifest(repository, reference).digest
        except NotFound:
            return None

    def put_manifest(self, repository: str, reference: str, manifest: ManifestDoc,
                     scope: str | None = None) -> str:
        """Store these exact bytes under `reference`; the registry must report the same digest."""
        scope = scope or f"repository:{repository}:pull,push"
        resp = self.request("PUT", f"/v2/{repository}/manifests/{reference}", scope=scope,
                            headers={"Content-Type": manifest.media_type}, data=manifest.raw)
        self.check_status(resp, f"writing {repository}:{reference}", ok=(200, 201))
        stored = resp.headers.get("Docker-Content-Digest")
        if stored and stored != manifest.digest:
            raise MalformedResponse(f"{self.registry} stored {repository}:{reference} as {stored}, "
                                    f"expected {manifest.digest}")
        return manifest.digest

    def get_blob(self, repository: str, digest: str) -> bytes:
        resp = self.request("GET", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull")
        self.check_status(resp, f"blob {digest} of {repository}")
        if sha256_digest(resp.content) != digest:
            raise MalformedResponse(f"blob {digest} of {repository} does not match its digest")
        return resp.content

    def image_config(self, repository: str, reference: str, platform: str = "linux/amd64") -> dict[str, Any]:
        """The image config (labels, architecture) of `reference`, choosing `platform` in an index."""
        doc = self.get_manifest(repository, reference)
        if doc.is_index:
            child = pick_platform(doc.children, platform)
            if child is None:
                raise NotFound(f"{repository}:{reference} has no {platform} image")
            doc = self.get_manifest(repository, child["digest"])
        config = doc.body["config"]
        try:
            data = json.loads(self.get_blob(repository, config["digest"]))
        except ValueError:
            raise MalformedResponse(f"the config blob of {repository}:{reference} is not JSON") from None
        return data if isinstance(data, dict) else {}


def _host_of(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _error_detail(resp: requests.Response) -> str:
    """The registry's own error code, when it sends the spec's {"errors": [...]} body."""
    try:
        errors = resp.json().get("errors") or []
        codes = ", ".join(str(e.get("code")) for e in errors if isinstance(e, dict))
        return f" ({codes})" if codes else ""
    except (ValueError, AttributeError):
        return ""
