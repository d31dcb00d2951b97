"""`verify`: the whole release chain checked at once, every disagreement listed.

manifest <-> branch (what `status` checks), README <-> manifest and git (what `readme --check`
checks), the dev and stable tags in the registry (equal digests once promoted, revision label =
branch head, version label = version, a passing smoke record for the digest), the chart version
in the chart repository, and, with a Kubernetes context, the deployed release (`helm get`).

Each area is a pure function from what was read to checks; `gather` does the reading.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from release.images.status import TagStatus
    from release.manifest.model import Manifest
    from release.rebase.drift import StatusReport
    from release.repo.gitrepo import Repo

class CheckStatus(StrEnum):
    OK = "ok"
    FAIL = "fail"
    SKIPPED = "skipped"  # nothing to compare with (not promoted yet, no chart repository, ...)


OK, FAIL, SKIPPED = CheckStatus.OK, CheckStatus.FAIL, CheckStatus.SKIPPED  # short names for the checks below
HelmRunner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Check:
    area: str  # branch | readme | image | smoke | chart | deployed
    status: CheckStatus
    message: str


@dataclass(frozen=True)
class VerifyReport:
    version: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return not self.disagreements

    @property
    def disagreements(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == FAIL)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "ok": self.ok, "checks": [asdict(c) for c in self.checks],
                "disagreements": [c.message for c in self.disagreements]}


def report_from_dict(data: Mapping[str, Any]) -> VerifyReport:
    return VerifyReport(data["version"], tuple(Check(c["area"], CheckStatus(c["status"]), c["message"])
                                               for c in data["checks"]))


# ------------------------------------------------------------------------------------- pure checks


def branch_checks(report: StatusReport | None, manifest_version: str, version: str) -> list[Check]:
    if report is None:
        return [Check("branch", SKIPPED, f"the manifest describes {manifest_version}, not {version}: "
                      "manifest and branch are compared for the manifest's version only")]
    if report.in_sync:
        head = (report.head or "")[:12]
        return [Check("branch", OK, f"{report.branch} ({head}) carries the manifest's {report.commits_on_branch} "
                      "patch commit(s) in order")]
    return [Check("branch", FAIL, f"{report.branch}: {f.message}") for f in report.findings]


def readme_checks(branch: str, expected: bytes | None, committed: bytes | None) -> list[Check]:
    if expected is None:
        return [Check("readme", SKIPPED, "README.md is checked for the manifest's version only")]
    if committed is None:
        return [Check("readme", FAIL, f"{branch} has no README.md; run `ellm-release readme` on it")]
    if committed != expected:
        return [Check("readme", FAIL, f"README.md on {branch} differs from what the manifest and git generate; "
                      "run `ellm-release readme` on it")]
    return [Check("readme", OK, f"README.md on {branch} is what the manifest and git generate")]


def image_checks(version: str, dev: TagStatus, stable: TagStatus, head: str | None, branch: str) -> list[Check]:
    checks: list[Check] = []
    if dev.digest is None:
        checks.append(Check("image", FAIL, f"{dev.image} is not in the registry; run `ellm-release build --push`"))
    if stable.digest is None:
        checks.append(Check("image", SKIPPED, f"{stable.image} is not in the registry yet (not promoted)"))
    elif dev.digest is not None and stable.digest != dev.digest:
        checks.append(Check("image", FAIL, f"{stable.image} is {stable.digest} but {dev.image} is {dev.digest}: "
                            "the stable tag is not the promoted dev build"))
    elif dev.digest is not None:
        checks.append(Check("image", OK, f"{dev.image} and {stable.image} are the same digest {dev.digest}"))
    for tag in (t for t in (dev, stable) if t.digest is not None):
        if head is None:
            checks.append(Check("image", FAIL, f"{tag.image}: no branch {branch} to compare its revision label with"))
        elif tag.revision != head:
            checks.append(Check("image", FAIL, f"{tag.image} was built from {tag.revision or 'an unlabelled commit'}, "
                                f"but {branch} is at {head}"))
        else:
            checks.append(Check("image", OK, f"{tag.image} revision label = {branch} head {head[:12]}"))
        if tag.version != version:
            checks.append(Check("image", FAIL, f"{tag.image} has version label {tag.version or '(none)'}, "
                                f"expected {version}"))
        else:
            checks.append(Check("image", OK, f"{tag.image} version label = {version}"))
    return checks


def smoke_checks(verdicts: Mapping[str, tuple[bool, str]]) -> list[Check]:
    """`verdicts`: digest -> (a passing smoke record names it, the smoke package's reason)."""
    return [Check("smoke", OK if passed else FAIL, reason) for passed, reason in verdicts.values()]


def public_url(url: str) -> str:
    """The URL as it may be printed: a user or token written into it is masked."""
    from release.redaction import mask_url_credentials

    return mask_url_credentials(url)


def chart_checks(chart: str, version: str, repo_url: str | None, versions: Iterable[str] | None,
                 unreachable: str | None) -> list[Check]:
    """`versions`: what the repository's index lists for the chart (None when it could not be read)."""
    repo_url = public_url(repo_url) if repo_url else repo_url
    if not repo_url:
        return [Check("chart", SKIPPED, "the manifest names no chart repository (chart.repo_url)")]
    if unreachable is not None:
        return [Check("chart", SKIPPED, f"the chart repository {repo_url} could not be reached ({unreachable})")]
    if versions is not None and version in set(versions):
        return [Check("chart", OK, f"{chart} {version} is in {repo_url}")]
    return [Check("chart", FAIL, f"{chart} {version} is not in {repo_url}")]


def index_versions(index: Any, chart: str) -> list[str]:
    """Versions of `chart` in a Helm repository's index.yaml (parsed)."""
    name = chart.rsplit("/", 1)[-1]  # "skypilot/skypilot": repository alias / chart name
    entries = index.get("entries") if isinstance(index, Mapping) else None
    found = entries.get(name) if isinstance(entries, Mapping) else None
    return [str(e.get("version")) for e in found or () if isinstance(e, Mapping)]


def helm_argv(what: str, release: str, namespace: str, context: str) -> list[str]:
    argv = ["helm", "get", what, release, "--namespace", namespace, "--kube-context", context]
    return [*argv, "--output", "json"] if what == "metadata" else argv


def deployed_images(manifest_text: str, repository: str) -> list[str]:
    """Container images of `repository` in `helm get manifest` output (multi-document YAML)."""
    import yaml

    found: list[str] = []
    for doc in yaml.safe_load_all(manifest_text):
        for image in _images(doc):
            if image.split("@", 1)[0].rsplit(":", 1)[0] == repository or image.startswith(repository + "@"):
                found.append(image)
    return found


def _images(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                yield value
            else:
                yield from _images(value)
    elif isinstance(node, list):
        for item in node:
            yield from _images(item)


def deployed_checks(release: str, context: str, metadata: Mapping[str, Any] | None, images: Sequence[str],
                    version: str, stable_digest: str | None, error: str | None = None) -> list[Check]:
    where = f"release {release} in context {context}"
    if error is not None:
        return [Check("deployed", FAIL, f"{where} could not be read: {error}")]
    assert metadata is not None
    checks: list[Check] = []
    status = str(metadata.get("status", ""))
    if status and status != "deployed":  # failed, pending-upgrade, ...: what runs is not this revision's
        checks.append(Check("deployed", FAIL, f"{where} is {status}, not deployed "
                            f"(revision {metadata.get('revision', '?')})"))
    chart_version = str(metadata.get("version", ""))
    if chart_version == version:
        checks.append(Check("deployed", OK, f"{where} runs chart {metadata.get('chart')} {version}"))
    else:
        checks.append(Check("deployed", FAIL, f"{where} runs chart version {chart_version or '(unknown)'}, "
                            f"expected {version}"))
    digests = sorted({image.split("@", 1)[1] for image in images if "@" in image})
    if stable_digest is None:
        checks.append(Check("deployed", FAIL, f"{where}: there is no stable image to compare with"))
    elif not images:
        checks.append(Check("deployed", FAIL, f"{where} runs no image of the release repository"))
    elif digests != [stable_digest] or any("@" not in image for image in images):
        shown = ", ".join(images)
        checks.append(Check("deployed", FAIL, f"{where} runs {shown}, not the stable digest {stable_digest}"))
    else:
        checks.append(Check("deployed", OK, f"{where} runs the stable digest {stable_digest}"))
    return checks


# ---------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class VerifyRequest:
    version: str
    kube_context: str | None = None
    namespace: str = "skypilot"
    release: str = "skypilot"
    insecure_registry: bool = False


def gather(repo: Repo, manifest: Manifest, state: Path, request: VerifyRequest, *,
           helm: HelmRunner | None = None, chart_timeout: float = 10.0) -> VerifyReport:
    from release.readme import render as fork_readme
    from release.rebase import drift
    from release.repo import githistory, gitrepo

    version = request.version
    branch = manifest.branch(version)
    head = (gitrepo.rev(repo, f"refs/heads/{branch}")
            or gitrepo.rev(repo, f"refs/remotes/{manifest.fork_remote}/{branch}"))
    current = version == manifest.version
    checks = branch_checks(drift.status(repo, manifest) if current else None, manifest.version, version)
    expected = committed = None
    if current and head is not None:
        expected = fork_readme.generate_readme(repo, manifest)
        committed = githistory.read_blobs(repo, [f"{head}:{fork_readme.README}"])[0]
    if current and head is None:
        checks.append(Check("readme", FAIL, f"no branch {branch} to read README.md from"))
    else:
        checks += readme_checks(branch, expected, committed)
    image_part, stable_digest = _image_part(manifest, state, request, head, branch)
    checks += image_part
    checks += _chart_part(manifest, manifest.chart_version_of(version), chart_timeout)
    if request.kube_context:
        checks += _deployed_part(manifest, request, stable_digest, helm or _run_helm)
    return VerifyReport(version, tuple(checks))


def _image_part(manifest: Manifest, state: Path, request: VerifyRequest, head: str | None,
                branch: str) -> tuple[list[Check], str | None]:
    from release.images.registry import RegistryClient
    from release.images.registry_errors import RegistryError
    from release.images.status import tag_status
    from release.records import parse_image
    from release.smoke.record import gate_verdict

    version = request.version
    client = RegistryClient(parse_image(manifest.dev_image(version)).registry,
                            insecure=request.insecure_registry or manifest.image.insecure_registry)
    try:
        dev = tag_status(client, manifest.dev_image(version), manifest.image.platform)
        stable = tag_status(client, manifest.stable_image(version), manifest.image.platform)
    except RegistryError as exc:
        return [Check("image", FAIL, f"the registry could not be read: {exc.message}")], None
    checks = image_checks(version, dev, stable, head, branch)
    digests = dict.fromkeys(d for d in (dev.digest, stable.digest) if d)
    verdicts = {d: gate_verdict(state, d) for d in digests}  # the promote gate's own reading of the records
    checks += smoke_checks({d: (v.allowed, v.reason) for d, v in verdicts.items()})
    return checks, stable.digest


def _chart_part(manifest: Manifest, version: str, timeout: float) -> list[Check]:
    import requests
    import yaml

    url = manifest.chart_repo_url
    if not url:
        return chart_checks(manifest.chart_name, version, None, None, None)
    index_url = url.rstrip("/") + "/index.yaml"
    shown = public_url(index_url)
    try:
        resp = requests.get(index_url, timeout=timeout)
    except requests.RequestException as exc:
        return chart_checks(manifest.chart_name, version, url, None, type(exc).__name__)
    if resp.status_code >= 500:
        return chart_checks(manifest.chart_name, version, url, None, f"HTTP {resp.status_code}")
    if resp.status_code != 200:
        return [Check("chart", FAIL, f"{shown} answered HTTP {resp.status_code}: not a chart repository")]
    try:
        index = yaml.safe_load(resp.text)
    except yaml.YAMLError:
        return [Check("chart", FAIL, f"{shown} is not a chart repository index")]
    return chart_checks(manifest.chart_name, version, url, index_versions(index, manifest.chart_name), None)


def _run_helm(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)


def _deployed_part(manifest: Manifest, request: VerifyRequest, stable_digest: str | None,
                   helm: HelmRunner) -> list[Check]:
    context = request.kube_context or ""
    outputs: dict[str, str] = {}
    for what in ("metadata", "manifest"):
        try:
            done = helm(helm_argv(what, request.release, request.namespace, context))
        except FileNotFoundError:
            return deployed_checks(request.release, context, None, (), request.version, stable_digest,
                                   "helm is not installed")
        except subprocess.TimeoutExpired:
            return deployed_checks(request.release, context, None, (), request.version, stable_digest,
                                   f"helm get {what} timed out")
        if done.returncode != 0:
            said = (done.stderr or "").strip().splitlines()
            return deployed_checks(request.release, context, None, (), request.version, stable_digest,
                                   said[-1] if said else f"helm get {what} exited {done.returncode}")
        outputs[what] = done.stdout
    import yaml

    try:
        metadata = json.loads(outputs["metadata"])
        images = deployed_images(outputs["manifest"], manifest.image.repository)
    except (ValueError, yaml.YAMLError) as exc:
        return deployed_checks(request.release, context, None, (), request.version, stable_digest,
                               f"helm's output could not be read ({type(exc).__name__})")
    # Helm records the chart's version (0.14.0-rc.1 for release 0.14.0rc1)
    return deployed_checks(request.release, context, metadata, images, manifest.chart_version_of(request.version),
                           stable_digest)


# ------------------------------------------------------------------------------------------ saving

SAVED = "verify.json"


def save_report(state: Path, report: VerifyReport) -> Path:
    from release.records import write_json

    return write_json(state / SAVED, report.to_dict())


def load_report(state: Path) -> VerifyReport | None:
    from release.records import read_json

    data = read_json(state / SAVED)
    return report_from_dict(data) if data else None


def render_lines(report: VerifyReport) -> list[str]:
    marks = {OK: "ok  ", FAIL: "FAIL", SKIPPED: "skip"}
    lines = [f"{marks[c.status]}  {c.area:<8} {c.message}" for c in report.checks]
    verdict = ("everything agrees" if report.ok else f"{len(report.disagreements)} disagreement(s)")
    return [*lines, f"verify {report.version}: {verdict}"]


def render_markdown(report: VerifyReport) -> str:
    from release.rebase.summary import md_text

    icon = {OK: "ok", FAIL: "**FAIL**", SKIPPED: "skipped"}
    lines = [f"## Verify {report.version}: " + ("everything agrees" if report.ok else
                                                  f"{len(report.disagreements)} disagreement(s)"), "",
             "| check | area | what |", "|---|---|---|"]
    lines += [f"| {icon[c.status]} | {c.area} | {md_text(c.message)} |" for c in report.checks]
    return "\n".join(lines) + "\n"
