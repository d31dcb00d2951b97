"""Who the tool is to a registry, and whether it may speak plain HTTP there.

Credentials come from ELLM_REGISTRY_USER / ELLM_REGISTRY_TOKEN (what CI sets), else the Docker config
file (`docker login`, including `docker-credential-*` helpers). They live in `Secret` objects whose
repr is `***`, and every encoding of them is registered for redaction. Plain HTTP is allowed only
to loopback registries and to hosts the user named (ELLM_INSECURE_REGISTRIES, --insecure-registry).
The challenge parser reads a registry's `WWW-Authenticate` answer (RFC 7235).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release.records import DOCKER_HUB
from release.redaction import Secret, register_secret

DOCKER_HUB_API = "registry-1.docker.io"
ENV_USER = "ELLM_REGISTRY_USER"
ENV_TOKEN = "ELLM_REGISTRY_TOKEN"
ENV_INSECURE = "ELLM_INSECURE_REGISTRIES"  # comma-separated hosts allowed over plain HTTP


# --- credentials ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    """A username with a password/token, or an OAuth2 identity token (docker login with an IdP)."""

    username: str
    secret: Secret
    source: str  # where they came from, for messages: "ELLM_REGISTRY_USER", "~/.docker/config.json", ...
    identity_token: bool = False

    def __post_init__(self) -> None:
        register_secret(self.secret.reveal())

    def basic_header(self) -> str:
        pair = f"{self.username}:{self.secret.reveal()}".encode()
        encoded = base64.b64encode(pair).decode()
        register_secret(encoded)
        return f"Basic {encoded}"


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _config_keys(registry: str) -> list[str]:
    """The spellings a Docker config may use for one registry."""
    keys = [registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/",
            f"https://{registry}/v2/"]
    if registry in (DOCKER_HUB, DOCKER_HUB_API):
        keys += ["https://index.docker.io/v1/", "index.docker.io", DOCKER_HUB]
    return keys


def _from_helper(helper: str, registry: str, runner: Callable[..., Any] = subprocess.run) -> Credentials | None:
    program = f"docker-credential-{helper}"
    for key in _config_keys(registry)[:2]:
        try:
            result = runner([program, "get"], input=key.encode(), capture_output=True, timeout=30, check=False)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            return None
        if result.returncode != 0:
            continue  # "credentials not found in native keychain": try the next spelling
        try:
            data = json.loads(result.stdout)
        except ValueError:
            return None
        user, secret = str(data.get("Username", "")), str(data.get("Secret", ""))
        if secret:
            return Credentials(user, Secret(secret), f"{program}", identity_token=user == "<token>")
    return None


def credentials_for(registry: str, *, config_path: Path | None = None,
                    runner: Callable[..., Any] = subprocess.run) -> Credentials | None:
    """ELLM_REGISTRY_USER/ELLM_REGISTRY_TOKEN first (what CI sets), then the Docker config file:
    a credHelpers entry for the registry, then `auths`, then the global credsStore."""
    user, token = os.environ.get(ENV_USER), os.environ.get(ENV_TOKEN)
    if token:
        return Credentials(user or "token", Secret(token), ENV_TOKEN)
    path = config_path or docker_config_path()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    keys = _config_keys(registry)
    helpers = config.get("credHelpers") or {}
    for key in keys:
        if key in helpers:
            return _from_helper(str(helpers[key]), registry, runner)
    auths = config.get("auths") or {}
    for key in keys:
        entry = auths.get(key)
        if isinstance(entry, dict) and (found := _from_auth_entry(entry, str(path))):
            return found
    if config.get("credsStore"):
        return _from_helper(str(config["credsStore"]), registry, runner)
    return None


def _from_auth_entry(entry: Mapping[str, Any], source: str) -> Credentials | None:
    if entry.get("identitytoken"):
        return Credentials(str(entry.get("username", "")), Secret(str(entry["identitytoken"])), source, True)
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        register_secret(str(entry["auth"]))
        return Credentials(user, Secret(password), source)
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), Secret(str(entry["password"])), source)
    return None


# --- plain HTTP -----------------------------------------------------------------------------------

def is_loopback(registry: str) -> bool:
    if registry.startswith("["):  # [::1]:5000
        host = registry[1:registry.find("]")]
    else:
        host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_allowed(registry: str, flag: bool = False) -> bool:
    """Plain HTTP only for loopback registries, or when the user named the registry as insecure."""
    listed = {h.strip() for h in os.environ.get(ENV_INSECURE, "").split(",") if h.strip()}
    return flag or is_loopback(registry) or registry in listed


# --- auth challenges ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower-case: "basic", "bearer"
    params: Mapping[str, str] = field(default_factory=dict)


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|{_TOKEN})\s*')


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value (RFC 7235), which may hold several challenges:
    `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull", Basic realm="x"`."""
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        match = re.compile(rf"[\s,]*({_TOKEN})").match(header, pos)
        if not match:
            break
        scheme, pos = match.group(1).lower(), match.end()
        params: dict[str, str] = {}
        while True:
            param = _PARAM_RE.match(header, pos)
            if not param:
                break
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[param.group(1).lower()] = value
            pos = param.end()
            comma = re.compile(r"\s*,").match(header, pos)
            if not comma:
                break
            pos = comma.end()
        challenges.append(Challenge(scheme, params))
    return challenges
