"""Lookup for the skypilot_deploy role: the digest a tag names, asked with ellm-release's registry
client (release/deploy/registry_digest.py), the one `image status` and `promote` use.

    lookup('ellm_registry_digest', 'ghcr.io/embeddedllm/skypilot', tag='v0.13.0',
           user=..., token=..., insecure=false)
"""

from __future__ import annotations

import sys
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: ellm_registry_digest
short_description: The digest an image tag names in its registry
description:
  - Asks the registry with ellm-release's own client, so credentials and plain HTTP are handled as
    by C(ellm-release image status) and C(promote).
options:
  _terms:
    description: The image repository, such as ghcr.io/embeddedllm/skypilot.
    required: true
  tag:
    description: The tag.
    required: true
  user:
    description: User name for the token (any non-empty name on ghcr.io).
    default: ""
  token:
    description: Password or personal access token; exchanged at the registry's token service.
    default: ""
  insecure:
    description: Allow plain HTTP to this registry even when it is not on this machine.
    type: bool
    default: false
"""

try:
    from release.deploy import registry_digest as deploy_registry
    from release.images.registry_errors import AuthError, RegistryError
    from release.redaction import redact, register_secret
except ImportError as exc:
    _MISSING = (f"the skypilot_deploy role needs the ellm-release package in the Python that runs Ansible "
                f"({sys.executable}): {exc}; install it there with `pip install -e .[deploy]` from the "
                "release repository")
else:
    _MISSING = ""


AUTH_HINTS = ["set SKYPILOT_REGISTRY_USER and SKYPILOT_REGISTRY_TOKEN (or vault_skypilot_registry_user and "
              "vault_skypilot_registry_token), or log in with `docker login`",
              "on ghcr.io the token is a personal access token (classic) with read:packages"]


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        if _MISSING:
            raise AnsibleLookupError(_MISSING)
        if len(terms) != 1 or not kwargs.get("tag"):
            raise AnsibleLookupError("ellm_registry_digest takes one image repository and tag=")
        token = str(kwargs.get("token") or "").strip()
        if token:  # masked in every message from here on, whatever quotes it
            register_secret(token)
        try:
            digest = deploy_registry.tag_digest(str(terms[0]), str(kwargs["tag"]), user=str(kwargs.get("user") or ""),
                                                token=token, insecure=boolean(kwargs.get("insecure") or False))
        except RegistryError as exc:
            hints = "".join(f" ({hint})" for hint in (AUTH_HINTS if isinstance(exc, AuthError) else exc.hints))
            raise AnsibleLookupError(redact(f"{exc}{hints}")) from None
        return [digest]
