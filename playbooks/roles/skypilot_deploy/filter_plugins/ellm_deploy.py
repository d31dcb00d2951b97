"""Jinja filters for the skypilot_deploy role: thin wrappers over `release.deploy.logic` (the
decisions), `release.deploy.resolve` (the release resolved from the manifest), `release.records` (the
state directory) and `release.images.record` (the image record's one reader).

Decision: the logic lives once, in those modules, where it is unit-tested, and this plugin
imports it from the installed ellm-release package, like any Python dependency of a plugin. The
Python that runs Ansible must have it (`pip install -e .[deploy]` does both); without it every
filter fails with one sentence saying so, instead of Ansible's "no filter named ellm_...".
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

try:
    from release.deploy import logic as deploy
    from release.deploy.resolve import DeployInputs, deploy_state_dir, resolve_release
    from release.errors import ReleaseError
    from release.images.record import ImageRecord, read_image_record
except ImportError as exc:  # Ansible from a system package or pipx, without ellm-release beside it
    _MISSING = (f"the skypilot_deploy role needs the ellm-release package in the Python that runs Ansible "
                f"({sys.executable}): {exc}; install it there with `pip install -e .[deploy]` from the "
                "release repository")
else:
    _MISSING = ""


def _guard(func: Any) -> Any:
    """Turn a DeployError or a ReleaseError (an unreadable record) into Ansible's filter error: one
    clear line, its hints after it, no traceback."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except deploy.DeployError as exc:
            raise AnsibleFilterError(str(exc)) from None
        except ReleaseError as exc:
            raise AnsibleFilterError(exc.message + "".join(f" ({hint})" for hint in exc.hints)) from None

    wrapped.__name__ = func.__name__
    return wrapped


def resolve(manifest_data: Any, manifest: str, version: Any = "", chart_version: Any = "", image_tag: Any = "",
            image_repository: Any = "", chart_ref: Any = "", chart_repo_name: Any = "", chart_repo_url: Any = "",
            channel: Any = "stable", insecure: Any = False) -> dict[str, Any]:
    """The release the role deploys (release.deploy.resolve): the manifest as include_vars read it,
    its path, and the role's inputs, where an empty one means the manifest's."""
    inputs = DeployInputs(version=str(version or ""), chart_version=str(chart_version or ""),
                          image_tag=str(image_tag or ""), image_repository=str(image_repository or ""),
                          chart_ref=str(chart_ref or ""), chart_repo_name=str(chart_repo_name or ""),
                          chart_repo_url=str(chart_repo_url or ""), channel=str(channel or "stable"),
                          insecure_registry=boolean(insecure or False, strict=False))
    return resolve_release(manifest_data, str(manifest), inputs).to_dict()


def version_problem(chart_version: str, image_tag: str, allow_dev: bool = False,
                    stable_pattern: str = "v{version}", dev_pattern: str = "v{version}-dev",
                    chart_pattern: str = "{semver}") -> str:
    return deploy.version_problem(str(chart_version), str(image_tag), allow_dev=bool(allow_dev),
                                  stable_pattern=stable_pattern, dev_pattern=dev_pattern,
                                  chart_pattern=chart_pattern or "{semver}")


def record_digest(record: Any, repository: str, tag: str) -> str:
    """The digest the image record (as ellm_read_record gave it) holds for repository:tag; '' for none."""
    if not isinstance(record, dict) or not record:
        return ""
    return ImageRecord(**{k: v for k, v in record.items() if k != "schema"}).digest_for(repository, tag)


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
    """The build/promote record ({} when none), read on the controller, where the state dir is, by
    the CLI's own reader: a damaged record or another schema's stops the play with its one sentence."""
    record = read_image_record(state_dir, str(version))
    return record.to_dict() if record else {}


def health_problems(health: Any, version: str, commit: str = "") -> list[str]:
    """Problems with an /api/health answer, given as parsed JSON or as the raw response text."""
    if isinstance(health, str):
        try:
            health = json.loads(health)
        except ValueError:
            return [f"/api/health did not answer with JSON: {health[:200]!r}"]
    return deploy.health_problems(health, str(version), commit or "")


def rollback_plan(history: Any, release: str, namespace: str, context: str = "", to_revision: Any = None,
                  chart_pattern: str = "{semver}") -> dict[str, Any]:
    revision = int(to_revision) if str(to_revision or "").strip() not in ("", "0", "None") else None
    return deploy.rollback_plan(history, str(release), str(namespace), context or "", revision,
                                chart_pattern or "{semver}").to_dict()


def rollback_argv(plan: Any, release: str, namespace: str, context: str = "", kubeconfig: str = "",
                  timeout: str = "15m", history_max: Any = 10) -> list[str]:
    return deploy.rollback_argv(str(release), str(namespace), int(plan["revision"]), context=context or "",
                                kubeconfig=kubeconfig or "", timeout=str(timeout), history_max=int(history_max))


# Every name the role uses, so that a missing package still yields one clear error per filter.
FILTER_NAMES = (
    "ellm_version_problem", "ellm_read_record", "ellm_record_digest",
    "ellm_choose_digest", "ellm_image_reference", "ellm_merge_values", "ellm_release_values",
    "ellm_auth_line_ok", "ellm_stuck_release_message", "ellm_release_would_change", "ellm_health_problems",
    "ellm_rollback_plan", "ellm_rollback_argv", "ellm_helm_connection", "ellm_deployed_record",
    "ellm_deployed_record_name", "ellm_resolve", "ellm_state_dir",
)


def _missing(*_args: Any, **_kwargs: Any) -> Any:
    raise AnsibleFilterError(_MISSING)


class FilterModule:
    """Filters named ellm_* so that they cannot clash with other collections' filters."""

    def filters(self) -> dict[str, Any]:
        table = self._filters() if not _MISSING else {}
        return table or dict.fromkeys(FILTER_NAMES, _missing)

    @staticmethod
    def _filters() -> dict[str, Any]:
        return {
            "ellm_version_problem": version_problem,
            "ellm_read_record": _guard(read_record),
            "ellm_record_digest": record_digest,
            "ellm_choose_digest": _guard(choose_digest),
            "ellm_image_reference": _guard(deploy.image_reference),
            "ellm_merge_values": _guard(deploy.merge_values),
            "ellm_release_values": _guard(release_values),
            "ellm_auth_line_ok": deploy.auth_line_ok,
            "ellm_stuck_release_message": stuck_release_message,
            "ellm_release_would_change": deploy.release_would_change,
            "ellm_health_problems": health_problems,
            "ellm_rollback_plan": rollback_plan,
            "ellm_rollback_argv": rollback_argv,
            "ellm_helm_connection": lambda context="", kubeconfig="": deploy.helm_connection_args(
                context or "", kubeconfig or ""),
            "ellm_deployed_record": deploy.deployed_record,
            "ellm_deployed_record_name": deploy.deployed_record_name,
            "ellm_resolve": _guard(resolve),
            # ELLM_STATE_DIR, else .ellm/ beside the manifest's patches/ folder: the CLI's own rule
            "ellm_state_dir": lambda manifest: deploy_state_dir(str(manifest)),
        }
