"""Jinja filters for the skypilot_deploy role: thin wrappers over `release.deploy`.

Decision: the logic lives once, in release/deploy.py, where it is unit-tested. This plugin imports
it from the release repository that holds this role, so it works whether or not ellm-release is
installed in Ansible's Python (Ansible from Galaxy or a system package): the playbooks always run
from a checkout of that repository. release.deploy needs only the standard
library and `packaging`, which ansible-core itself requires, so no extra install is needed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError

# Prefer the checkout this role lives in (four folders up), so that the role and the logic it calls
# always come from one commit; fall back to an installed ellm-release.
_ROOT = Path(__file__).resolve().parents[4]
if (_ROOT / "release" / "deploy.py").is_file() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from release import deploy  # noqa: E402


def _guard(func: Any) -> Any:
    """Turn the module's DeployError into Ansible's filter error: one clear line, no traceback."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except deploy.DeployError as exc:
            raise AnsibleFilterError(str(exc)) from None

    wrapped.__name__ = func.__name__
    return wrapped


def version_problem(chart_version: str, image_tag: str, allow_dev: bool = False,
                    stable_pattern: str = "v{version}", dev_pattern: str = "v{version}-dev") -> str:
    return deploy.version_problem(str(chart_version), str(image_tag), allow_dev=bool(allow_dev),
                                  stable_pattern=stable_pattern, dev_pattern=dev_pattern)


def record_digest(record: Any, repository: str, tag: str) -> str:
    return deploy.record_digest(record if isinstance(record, dict) else None, repository, tag)


def choose_digest(given: str = "", record: str = "", registry: str = "") -> dict[str, str]:
    choice = deploy.choose_digest(given=given or "", record=record or "", registry=registry or "")
    return {"digest": choice.digest, "source": choice.source}


def release_values(base: Any, environment: Any, image: str, auth_secret: str = "", extra: Any = None
                   ) -> dict[str, Any]:
    if isinstance(extra, str):  # `-e skypilot_extra_values='{...}'` in key=value form arrives as text
        extra = yaml.safe_load(extra)
    return deploy.release_values(base, environment, image=image, auth_secret=auth_secret or "",
                                 extra=extra or None)


def stuck_release_message(status: Any, release: str, namespace: str, context: str = "") -> str:
    return deploy.stuck_release_message(status if isinstance(status, dict) else None, release,
                                        namespace, context or "")


def read_record(state_dir: str, version: str) -> dict[str, Any]:
    """The build/promote record ({} when none); read on the controller, where the state dir is."""
    return deploy.read_record(state_dir, str(version)) or {}


def health_problems(health: Any, version: str, commit: str = "") -> list[str]:
    """Problems with an /api/health answer, given as parsed JSON or as the raw response text."""
    if isinstance(health, str):
        try:
            health = json.loads(health)
        except ValueError:
            return [f"/api/health did not answer with JSON: {health[:200]!r}"]
    return deploy.health_problems(health, str(version), commit or "")


class FilterModule:
    """Filters named ellm_* so that they cannot clash with other collections' filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "ellm_tag_for": lambda version, pattern: deploy.tag_for(pattern, str(version)),
            "ellm_version_problem": version_problem,
            "ellm_read_record": read_record,
            "ellm_record_digest": record_digest,
            "ellm_choose_digest": _guard(choose_digest),
            "ellm_image_reference": _guard(deploy.image_reference),
            "ellm_manifest_url": deploy.manifest_url,
            "ellm_token_url": _guard(deploy.token_url),
            "ellm_merge_values": _guard(deploy.merge_values),
            "ellm_release_values": _guard(release_values),
            "ellm_auth_line_ok": deploy.auth_line_ok,
            "ellm_stuck_release_message": stuck_release_message,
            "ellm_release_would_change": deploy.release_would_change,
            "ellm_health_problems": health_problems,
        }
