"""Lookup for the skypilot_deploy role: verify the cosign signature of the digest about to be
deployed, with ellm-release's signing module (release/images/signing.py), the one `build` and `promote` use.

    lookup('ellm_image_signature', 'ghcr.io/embeddedllm/skypilot@sha256:...', public_key='cosign.pub')
    lookup('ellm_image_signature', ref, identity='^https://github.com/ORG/REPO/', issuer=...)
"""

from __future__ import annotations

import sys
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: ellm_image_signature
short_description: Verify the cosign signature of an image digest
description:
  - Runs C(cosign verify) for a key (public_key) or a keyless identity (identity, issuer) and
    returns how it was verified; fails with one sentence when the image is unsigned or the
    signature does not verify.
options:
  _terms:
    description: The image as repository@sha256:digest.
    required: true
  public_key:
    description: cosign public key (file or KMS URI).
    default: ""
  identity:
    description: Regular expression the keyless certificate's identity must match.
    default: ""
  issuer:
    description: OIDC issuer of the keyless certificate.
    default: https://token.actions.githubusercontent.com
  user:
    description: Registry user name.
    default: ""
  token:
    description: Registry password or token.
    default: ""
  insecure:
    description: Allow plain HTTP to this registry even when it is not on this machine.
    type: bool
    default: false
"""

try:
    from release.deploy import registry_digest as deploy_registry
    from release.errors import ReleaseError
    from release.images import signing
    from release.images.registry_auth import credentials_for, insecure_allowed
    from release.records import parse_image
    from release.redaction import redact, register_secret
except ImportError as exc:
    _MISSING = (f"the skypilot_deploy role needs the ellm-release package in the Python that runs Ansible "
                f"({sys.executable}): {exc}; install it there with `pip install -e .[deploy]` from the "
                "release repository")
else:
    _MISSING = ""

ALLOW_HINT = ("sign it (`ellm-release build --push` or `promote` with ELLM_COSIGN_KEY, or keyless in CI), or "
              "deploy it unsigned on purpose with -e skypilot_allow_unsigned_image=true")


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        if _MISSING:
            raise AnsibleLookupError(_MISSING)
        if len(terms) != 1:
            raise AnsibleLookupError("ellm_image_signature takes one image reference (repository@sha256:...)")
        image = str(terms[0])
        public_key, identity = str(kwargs.get("public_key") or ""), str(kwargs.get("identity") or "")
        token = str(kwargs.get("token") or "").strip()
        if token:  # masked in every message from here on, whatever quotes it
            register_secret(token)
        if public_key:
            config = signing.SigningConfig(signing.SigningMode.KEY, public_key=public_key)
        elif identity:
            config = signing.SigningConfig(signing.SigningMode.KEYLESS, identity=identity,
                                           issuer=str(kwargs.get("issuer") or signing.GITHUB_ISSUER))
        else:
            raise AnsibleLookupError(
                f"cannot verify the signature of {image}: no cosign public key (skypilot_cosign_public_key or "
                "ELLM_COSIGN_PUBLIC_KEY) and no keyless identity (skypilot_cosign_identity) is set; " + ALLOW_HINT)
        try:
            registry = parse_image(image).registry
            credentials = deploy_registry.deploy_credentials(str(kwargs.get("user") or ""), token) \
                or credentials_for(registry)
            insecure = insecure_allowed(registry, boolean(kwargs.get("insecure") or False))
            verified = signing.verify(config, image, registry=registry, credentials=credentials,
                                      insecure_http=insecure)
        except (ReleaseError, ValueError) as exc:
            message = getattr(exc, "message", str(exc))
            raise AnsibleLookupError(redact(f"refusing to deploy: {message}; {ALLOW_HINT}")) from None
        return [verified.how]
