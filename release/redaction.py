"""The one place that keeps secrets out of what the tool prints or writes.

Tokens and passwords live in `Secret` objects whose str() and repr() are `***`; every secret the
tool handles is registered, and `redact()` masks registered secrets, authorization headers,
`token=`-style parameters and the credentials in URLs (`https://***@host/...`) in any text. The
command line passes every message, hint, progress line and JSON document through it.
"""

from __future__ import annotations

import re

# Process-wide on purpose: a token registered by the GitHub client must be masked in a message that
# any other part of the tool prints later. A run registers a handful (the GitHub token, registry
# passwords), so the set stays small.
_registered_secrets: set[str] = set()

# the userinfo of a URL: scheme://user:password@host, scheme://token@host
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s@'\"]+)@")


def _is_credential(match: re.Match[str]) -> bool:
    # over HTTP a bare `token@` is how tokens travel; over ssh `git@` is only a user name
    return ":" in match.group(2) or match.group(1).lower() in ("http://", "https://")


class Secret:
    """A password or token. Prints as *** so that it cannot leak through str(), repr() or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def register_secret(value: str) -> None:
    """Remember a secret so that redact() removes it from any text."""
    if value and len(value) >= 3:
        _registered_secrets.add(value)


def strip_url_credentials(text: str) -> str:
    """`https://user:token@github.com/x` -> `https://github.com/x`: for what the tool writes (an
    image label, a record, a link), where a mask would be noise."""
    return _URL_USERINFO.sub(lambda m: m.group(1) if _is_credential(m) else m.group(0), text)


def mask_url_credentials(text: str) -> str:
    """`https://user:token@github.com/x` -> `https://***@github.com/x`: for messages, where the
    reader should still see that the URL carries credentials."""
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}***@" if _is_credential(m) else m.group(0), text)


def has_url_credentials(url: str) -> bool:
    return any(_is_credential(m) for m in _URL_USERINFO.finditer(url))


def redact(text: str) -> str:
    """`text` without any registered secret, authorization header values, token/password
    parameters or credentials in URLs."""
    for secret in sorted(_registered_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = re.sub(r"(?i)(authorization:?\s*(basic|bearer|token)\s+)[A-Za-z0-9+/=._~-]+", r"\1***", text)
    text = re.sub(r"(?i)((access_)?token|password|refresh_token)=[^&\s\"']+", r"\1=***", text)
    return mask_url_credentials(text)
