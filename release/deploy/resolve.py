"""What the deploy role deploys, resolved once from the patch manifest and the role's inputs: the
release version, the chart and its version, the image repository and tag, and whether plain HTTP is
allowed; and where the image records are (the state directory, by the CLI's own rule). The role
calls this through two filters (`ellm_resolve`, `ellm_state_dir`) instead of re-deriving the
manifest's defaults in Jinja, so the role and `ellm-release` cannot drift apart: the tests compare
it with what release.manifest.model makes of the same manifest.

The manifest arrives as Ansible read it (include_vars: plain dicts, strings, numbers), so this module
needs no YAML library. Standard library and release.manifest.versions only, like logic.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from release import records
from release.deploy.logic import DeployError, chart_version, repository_name, tag_for
from release.manifest.versions import DEFAULT_CHART_PATTERN

CHANNELS = ("stable", "dev")


@dataclass(frozen=True)
class DeployInputs:
    """The role's own inputs (skypilot_* variables); an empty string means "the manifest's"."""

    version: str = ""
    chart_version: str = ""
    image_tag: str = ""
    image_repository: str = ""
    chart_ref: str = ""
    chart_repo_name: str = ""
    chart_repo_url: str = ""
    channel: str = "stable"  # which tag runs when none is given: stable, or dev where dev builds are taken
    insecure_registry: bool = False


@dataclass(frozen=True)
class ResolvedRelease:
    manifest: str
    version: str  # the release, as /api/health reports it (0.14.0rc1)
    repository: str  # spelt out: docker.io/library/name for a bare Docker Hub name
    tag: str
    stable_pattern: str
    dev_pattern: str
    chart: str
    chart_repo_name: str
    chart_repo_url: str
    chart_pattern: str
    chart_version: str  # in the chart's SemVer scheme (0.14.0-rc.1)
    insecure_registry: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def deploy_state_dir(manifest_path: str | Path, environ: Mapping[str, str] | None = None) -> str:
    """The state directory the role reads image records from: the CLI's rule (release.records), as an
    absolute path, because the role's later tasks run with other working directories."""
    return str(records.state_dir(manifest_path, environ).resolve())


def _section(data: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    section = data.get(name)
    if not isinstance(section, Mapping):
        raise DeployError(f"the manifest {where} has no {name}: section")
    return section


def _field(section: Mapping[str, Any], name: str, where: str) -> str:
    value = section.get(name)
    if value is None or str(value).strip() == "":
        raise DeployError(f"the manifest {where} does not set {name}")
    return str(value)


def resolve_release(manifest: Mapping[str, Any], manifest_path: str | Path, inputs: DeployInputs) -> ResolvedRelease:
    """The release the role deploys. Every input wins over the manifest; what is not given follows
    the release version: the chart version through the manifest's chart.version pattern, the tag
    through its stable or dev tag pattern (by channel). DeployError names what is missing or wrong."""
    where = str(manifest_path)
    if not isinstance(manifest, Mapping):
        raise DeployError(f"the manifest {where} is not a mapping")
    upstream, image, chart = (_section(manifest, name, where) for name in ("upstream", "image", "chart"))
    if inputs.channel not in CHANNELS:
        raise DeployError(f"the image channel {inputs.channel!r} is neither stable nor dev")
    version = str(inputs.version or _field(upstream, "version", f"{where} (upstream)"))
    stable_pattern = _field(image, "stable_tag", f"{where} (image)")
    dev_pattern = _field(image, "dev_tag", f"{where} (image)")
    chart_ref = str(inputs.chart_ref or _field(chart, "name", f"{where} (chart)"))
    chart_pattern = str(chart.get("version") or DEFAULT_CHART_PATTERN)
    return ResolvedRelease(
        manifest=str(manifest_path),
        version=version,
        repository=repository_name(str(inputs.image_repository or _field(image, "repository", f"{where} (image)"))),
        tag=str(inputs.image_tag or tag_for(dev_pattern if inputs.channel == "dev" else stable_pattern, version)),
        stable_pattern=stable_pattern,
        dev_pattern=dev_pattern,
        chart=chart_ref,
        chart_repo_name=str(inputs.chart_repo_name or chart.get("repo_name") or chart_ref.split("/")[0]),
        chart_repo_url=str(inputs.chart_repo_url or chart.get("repo_url") or ""),
        chart_pattern=chart_pattern,
        chart_version=str(inputs.chart_version or chart_version(version, chart_pattern)),
        insecure_registry=bool(inputs.insecure_registry) or image.get("insecure_registry") is True,
    )
