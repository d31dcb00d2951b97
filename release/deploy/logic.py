"""Pure deploy logic shared by the `skypilot_deploy` Ansible role and `ellm-release deploy`.

The role's filter plugin imports this module inside Ansible's own Python, which may not have the
rest of ellm-release's dependencies. So this module uses only the standard library, release.records
(standard library only) and `release.manifest.versions` (whose one dependency, `packaging`,
ansible-core requires too). Never import ruamel, click or docker here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import records
from release.manifest.versions import (
    DEFAULT_CHART_PATTERN,
    InvalidVersion,
    chart_version_for,
    image_tag_version,
    parse_version,
    release_of_chart_version,
    reports_release,
    same_release,
)
from release.records import is_digest

# Accepted htpasswd hash schemes: Apache MD5, bcrypt, SHA1. A plain password is refused because
# ingress-nginx would compare the typed password against it as if it were a hash.
HTPASSWD_RE = re.compile(r"^[^:\s]+:(\$apr1\$|\$2[aby]\$|\{SHA\})\S+$")
PENDING_PREFIX = "pending-"
# Values the API server's /api/health reports when a build was not stamped with its commit.
UNSTAMPED_COMMITS = {"", "unknown", "{{SKYPILOT_COMMIT_SHA}}"}


class DeployError(ValueError):
    """A deploy input that must stop the run before the cluster is touched."""


# --- image repository ----------------------------------------------------------------------------

# What the deploy role's inputs are called, for the messages about a repository that is not one.
_REPOSITORY_ADVICE = {"tag": "; set the tag with skypilot_version (or skypilot_image_tag)",
                      "digest": "; set skypilot_image_digest"}


def repository_name(text: str) -> str:
    """The image repository as the registry and the kubelet name it (release.records), or DeployError
    saying which role variable to set instead."""
    try:
        return records.repository_name(text)
    except records.InvalidImageReference as exc:
        raise DeployError(f"{exc}{_REPOSITORY_ADVICE.get(exc.part, '')}") from None


# --- chart version <-> image tag ---------------------------------------------------------------

def tag_for(pattern: str, version: str) -> str:
    """Fill a manifest tag pattern such as `v{version}-dev`."""
    return pattern.replace("{version}", version)


def chart_version(version: str, pattern: str = DEFAULT_CHART_PATTERN) -> str:
    """The chart version a release deploys: 0.14.0rc1 -> 0.14.0-rc.1 under the default pattern."""
    try:
        return chart_version_for(version, pattern or DEFAULT_CHART_PATTERN)
    except InvalidVersion as exc:
        raise DeployError(str(exc)) from None


def version_problem(chart_version: str, image_tag: str, *, allow_dev: bool,
                    stable_pattern: str = "v{version}", dev_pattern: str = "v{version}-dev",
                    chart_pattern: str = DEFAULT_CHART_PATTERN) -> str:
    """Why this chart version and image tag must not be deployed together; '' when they may.

    Both name a release: the chart in the chart's SemVer scheme (0.14.0-rc.1, through the manifest's
    chart.version pattern), the image in the manifest's stable (v0.14.0rc1) or dev (v0.14.0rc1-dev)
    tag pattern. They are compared as releases, so 0.14.0-rc.1 and v0.14.0rc1 agree. A dev tag
    passes only where the inventory says the environment takes development builds.
    """
    release = release_of_chart_version(chart_version, chart_pattern)
    if release is None:
        return (f"chart version {chart_version!r} is not a release version: expected the chart.version pattern "
                f"{chart_pattern!r} filled with a release such as 0.13.0 or 0.14.0rc1")
    stable, dev = tag_for(stable_pattern, release), tag_for(dev_pattern, release)
    from_tag = image_tag_version(image_tag, stable_pattern, dev_pattern)
    if from_tag is not None and same_release(from_tag[0], release):
        if not from_tag[1] or allow_dev:
            return ""
        return (f"image tag {image_tag} is a development build, and this environment does not take "
                f"dev builds (skypilot_allow_dev_image is false); promote it first "
                f"(ellm-release promote) and deploy {stable}")
    return (f"chart version {chart_version} and image tag {image_tag} disagree: chart {chart_version} "
            f"must run image {stable}" + (f" (or {dev} where dev builds are allowed)" if allow_dev else "")
            + "; set skypilot_version (or skypilot_chart_version and skypilot_image_tag) to one release")


# --- image digest ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigestChoice:
    digest: str
    source: str  # "given", "record" or "registry"


def choose_digest(*, given: str = "", record: str = "", registry: str = "") -> DigestChoice:
    """Pick the digest to deploy: an explicit one, then the record, then the registry's answer."""
    for source, digest in (("given", given), ("record", record), ("registry", registry)):
        if digest:
            if not is_digest(digest):
                raise DeployError(f"the {source} digest {digest!r} is not a sha256 image digest "
                                  "(sha256: and 64 hex digits, nothing else)")
            return DigestChoice(digest, source)
    raise DeployError("no image digest: the build record has none for this tag and the registry "
                      "gave none; run `ellm-release build` (or promote), or pass "
                      "-e skypilot_image_digest=sha256:...")


def image_reference(repository: str, tag: str, digest: str) -> str:
    """`repository:tag@sha256:...`: the tag for people, the digest for the kubelet."""
    if not is_digest(digest):
        raise DeployError(f"{digest!r} is not a sha256 image digest")
    repository = repository_name(repository)
    if not tag or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag):
        raise DeployError(f"cannot pin {repository}:{tag!r}: not a valid image tag")
    return f"{repository}:{tag}@{digest}"


# --- values ------------------------------------------------------------------------------------

def merge_values(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge Helm values the way `helm -f a -f b` does: mappings merge key by key, anything
    else (lists included) is replaced by the later layer. A None is kept, because Helm reads a
    null as "delete the chart's default" (we use that to drop the chart's placeholder password)."""
    out: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            raise DeployError(f"a values layer must be a mapping, got {type(layer).__name__}")
        _merge_into(out, layer)
    return out


def _merge_into(out: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            _merge_into(out[key], value)
        else:
            out[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)


def release_values(base: Mapping[str, Any] | None, environment: Mapping[str, Any] | None, *,
                   image: str, auth_secret: str = "", extra: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The values the role hands to Helm: shared file, environment file, inventory extras, then
    what the role decides itself (the pinned image and the name of the auth secret it manages).

    Secrets never enter these values: the role keeps the basic-auth line in a Kubernetes Secret
    and passes only that Secret's name, so the values can be shown in --diff and live in Helm's
    release history without leaking anything.
    """
    if "@sha256:" not in image:
        raise DeployError(f"refusing to deploy {image!r}: the image must be pinned by digest")
    owned: dict[str, Any] = {"apiService": {"image": image}}
    if auth_secret:
        owned["ingress"] = {"authSecret": auth_secret, "authCredentials": None}
    values = merge_values(base, environment, extra, owned)
    _refuse_inline_credentials(values)
    return values


def _refuse_inline_credentials(values: Mapping[str, Any]) -> None:
    ingress = values.get("ingress")
    if isinstance(ingress, Mapping) and ingress.get("authCredentials"):
        raise DeployError("ingress.authCredentials is set in the values files; keep credentials in "
                          "Ansible Vault or SKYPILOT_AUTH_CREDENTIALS so the role stores them in a Secret")


def auth_line_ok(line: str) -> bool:
    """True for one htpasswd line (`user:hash`) with a hash ingress-nginx understands."""
    return bool(HTPASSWD_RE.match(line or ""))


# --- cluster state -----------------------------------------------------------------------------

def stuck_release_message(status: Mapping[str, Any] | None, release: str, namespace: str,
                          context: str = "") -> str:
    """Instructions when Helm's record of the release is stuck in pending-*; '' otherwise.

    A pending-* release makes every further upgrade fail with "another operation is in progress";
    Helm cannot tell an interrupted operation from a running one, so a person has to decide.
    """
    state = str((status or {}).get("status") or "").lower()
    if not state.startswith(PENDING_PREFIX):
        return ""
    ctx = f" --kube-context {context}" if context else ""
    revision = str((status or {}).get("revision") or "?")
    lines = [
        f"Helm release {release} in namespace {namespace} is stuck in {state} (revision {revision}).",
        "Make sure no other deploy is running, then look at its history:",
        f"  helm history {release} -n {namespace}{ctx}",
    ]
    if state == "pending-install":
        lines.append(f"It was never deployed: remove it with  helm uninstall {release} -n {namespace}{ctx}")
    else:
        lines.append(f"Roll back to the last deployed revision:  helm rollback {release} <REVISION> "
                     f"-n {namespace}{ctx}")
    lines.append("Then run the deploy again.")
    return "\n".join(lines)


def release_would_change(current: Mapping[str, Any] | None, chart: str, chart_version: str,
                         values: Mapping[str, Any]) -> bool:
    """Whether Helm would upgrade: no release yet, another chart version, or other user values.

    The same rule kubernetes.core.helm applies without the helm-diff plugin, so the role's summary
    and the module agree. A new digest changes apiService.image and therefore the values.
    """
    if not current:
        return True
    chart_name = chart.split("/")[-1]
    if current.get("chart") != f"{chart_name}-{chart_version}":
        return True
    return dict(current.get("values") or {}) != dict(values)


def health_problems(health: Mapping[str, Any] | None, version: str, commit: str = "") -> list[str]:
    """What is wrong with the API server's /api/health answer for the release we deployed."""
    if not isinstance(health, Mapping):
        return [f"/api/health did not answer with a JSON object: {health!r}"]
    problems = []
    if str(health.get("status", "")).lower() != "healthy":
        problems.append(f"status is {health.get('status')!r}, expected 'healthy'")
    reported = str(health.get("version", ""))
    if not reports_release(version, reported):
        problems.append(f"version is {reported!r}, expected {version!r}")
    reported_commit = str(health.get("commit") or "")
    if commit and reported_commit not in UNSTAMPED_COMMITS:
        short = min(len(commit), len(reported_commit))
        if short < 7 or commit[:short] != reported_commit[:short]:
            problems.append(f"commit is {reported_commit!r}, expected the fork commit {commit}")
    return problems


# --- the ansible-playbook command `ellm-release deploy` runs ---------------------------------------

def ansible_env(root: str | Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for ansible-playbook: the repository's ansible.cfg wherever the tool runs from
    (Ansible reads ./ansible.cfg only from the current directory), unless the user chose another."""
    env = dict(environ)
    config = Path(root) / "ansible.cfg"
    if "ANSIBLE_CONFIG" not in env and config.is_file():
        env["ANSIBLE_CONFIG"] = str(config)
    return env


def playbook_command(ansible_playbook: str, playbook: str | Path, inventory: str | Path, *,
                     manifest: str | Path | None = None, version: str | None = None,
                     check: bool = False, passthrough: tuple[str, ...] | list[str] = (),
                     rollback_revision: int | None = None) -> list[str]:
    """The argv for the deploy playbook. Extra vars go as one JSON document, so that paths with
    spaces survive; nothing secret is ever added here (credentials come from Vault or the
    environment), so the argv may be printed and logged."""
    argv = [ansible_playbook, "-i", str(inventory), str(playbook)]
    extra: dict[str, str | int] = {}
    if manifest is not None:
        extra["skypilot_manifest"] = str(manifest)
    if version:
        parse_version(version)  # a typo fails here, not halfway through the play
        extra["skypilot_version"] = version
    if rollback_revision is not None:
        extra["skypilot_rollback_revision"] = rollback_revision
    if extra:
        argv += ["-e", json.dumps(extra, sort_keys=True)]
    if check:
        argv += [flag for flag in ("--check", "--diff") if flag not in passthrough]
    return argv + list(passthrough)


# --- rollback ------------------------------------------------------------------------------------

# Helm marks the revision that runs as `deployed` and the ones it replaced as `superseded`; only
# those ever ran. `failed`, `pending-*` and `uninstalled` revisions are no place to go back to.
ROLLBACK_TARGETS = {"deployed", "superseded"}
_CHART_FIELD = re.compile(r"^(?P<name>.+?)-(?P<version>\d+\.\d+\.\d+\S*)$")


@dataclass(frozen=True)
class RollbackPlan:
    """Which revision `helm rollback` goes to, or why there is none (problem non-empty)."""

    problem: str = ""
    revision: int = 0
    current: int = 0
    chart: str = ""  # chart-version as Helm records it, e.g. skypilot-0.14.0-rc.1
    chart_version: str = ""
    release_version: str = ""  # the release that chart version names (what /api/health reports)

    def to_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "revision": self.revision, "current": self.current, "chart": self.chart,
                "chart_version": self.chart_version, "release_version": self.release_version}


def _history_entries(history: Any) -> list[dict[str, Any]]:
    """`helm history RELEASE --output json`: a list of {revision, status, chart, app_version, ...}."""
    if isinstance(history, str):
        try:
            history = json.loads(history or "[]")
        except ValueError:
            return []
    entries = [e for e in history or () if isinstance(e, Mapping) and str(e.get("revision", "")).isdigit()]
    return sorted(({**e, "revision": int(e["revision"])} for e in entries), key=lambda e: e["revision"])


def rollback_plan(history: Any, release: str, namespace: str, context: str = "", to_revision: int | None = None,
                  chart_pattern: str = DEFAULT_CHART_PATTERN) -> RollbackPlan:
    """The revision to roll back to: --to-revision N, else the newest earlier one that ran."""
    entries = _history_entries(history)
    where = f"release {release} in namespace {namespace}"
    if not entries:
        return RollbackPlan(problem=f"Helm has no history for {where}: there is nothing to roll back")
    current = entries[-1]
    stuck = stuck_release_message({"status": current.get("status"), "revision": current["revision"]},
                                  release, namespace, context)
    if stuck:
        return RollbackPlan(problem=stuck, current=current["revision"])
    earlier = [e for e in entries[:-1] if str(e.get("status", "")).lower() in ROLLBACK_TARGETS]
    if to_revision is None:
        if not earlier:
            return RollbackPlan(problem=f"{where} has no earlier revision to roll back to (revision "
                                f"{current['revision']} is the only one that ran)", current=current["revision"])
        target = earlier[-1]
    else:
        found = [e for e in entries if e["revision"] == to_revision]
        kept = ", ".join(str(e["revision"]) for e in entries)
        if to_revision == current["revision"]:
            return RollbackPlan(problem=f"revision {to_revision} of {where} is the one deployed now",
                                current=current["revision"])
        if not found:
            return RollbackPlan(problem=f"{where} has no revision {to_revision} (Helm keeps revisions {kept}; "
                                "the deploy role's history_max limits how many)", current=current["revision"])
        target = found[0]
        if str(target.get("status", "")).lower() not in ROLLBACK_TARGETS:
            return RollbackPlan(problem=f"revision {to_revision} of {where} is {target.get('status')}: it never "
                                "ran, so there is nothing to go back to", current=current["revision"])
    chart = str(target.get("chart") or "")
    match = _CHART_FIELD.match(chart)
    chart_version = match.group("version") if match else ""
    release_version = release_of_chart_version(chart_version, chart_pattern) if chart_version else None
    return RollbackPlan(revision=target["revision"], current=current["revision"], chart=chart,
                        chart_version=chart_version,
                        release_version=release_version or str(target.get("app_version") or ""))


def helm_connection_args(context: str = "", kubeconfig: str = "") -> list[str]:
    """--kube-context / --kubeconfig for a helm command line, only those that are set."""
    return (["--kube-context", context] if context else []) + (["--kubeconfig", kubeconfig] if kubeconfig else [])


def rollback_argv(release: str, namespace: str, revision: int, *, context: str = "", kubeconfig: str = "",
                  timeout: str = "15m", history_max: int = 10) -> list[str]:
    """`helm rollback`: waits for the old revision's resources, like the deploy's upgrade does."""
    return ["helm", "rollback", release, str(revision), "--namespace", namespace, "--wait", "--timeout", timeout,
            "--history-max", str(history_max), *helm_connection_args(context, kubeconfig)]


def deployed_record(plan: Mapping[str, Any], release: str, namespace: str, context: str, values: Any,
                    at: str) -> dict[str, Any]:
    """What the state dir keeps about the release after a rollback: revision, chart and image."""
    if isinstance(values, str):
        try:
            values = json.loads(values or "{}")
        except ValueError:
            values = {}
    image = ((values or {}).get("apiService") or {}).get("image") if isinstance(values, Mapping) else None
    return {"release": release, "namespace": namespace, "context": context or None,
            "revision": plan.get("revision"), "rolled_back_from": plan.get("current"), "chart": plan.get("chart"),
            "release_version": plan.get("release_version"), "image": image if isinstance(image, str) else None,
            "at": at, "by": "rollback"}


def deployed_record_name(release: str, namespace: str, context: str = "") -> str:
    """deployed/<context>_<namespace>_<release>.json: one record per place a release runs."""
    safe = re.compile(r"[^A-Za-z0-9_.-]+")
    return "_".join(safe.sub("-", part) for part in (context or "default", namespace, release)) + ".json"
