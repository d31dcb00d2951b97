"""What can go wrong when the tool talks to a registry, one class per thing a caller may handle:
each is a Failed (exit 4: something outside failed; run the command again once it is fixed)."""

from __future__ import annotations

from release.errors import Failed


class RegistryError(Failed):
    """A registry operation failed; the message names the registry and what was asked, never a secret."""


class RegistryUnavailable(RegistryError):
    """The registry did not answer usefully, even after the retries."""


class AuthError(RegistryError):
    """The registry refused the credentials (or needs some and none were found)."""


class NotFound(RegistryError):
    """The tag or digest does not exist in the repository."""


class MalformedResponse(RegistryError):
    """The registry answered, but not with something the distribution spec allows."""
