"""`ellm-release verify`: the whole chain (manifest, branch, README, registry tags and labels,
smoke record, chart repository, deployed release) on real git repositories and a real registry."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from image_project import pass_smoke
from support.git import commit_files, git
from support.registry_api import push_image
from support.worlds import Cli

from release.assist import verify
from release.demo.localdaemons import LocalRegistry, free_port
from release.demo.sandbox import World, build_world
from release.manifest.model import load_manifest
from release.repo.gitrepo import open_repo

pytestmark = pytest.mark.docker
VERSION = "0.13.0"
REVISION, VERSION_LABEL = "org.opencontainers.image.revision", "org.opencontainers.image.version"


@dataclass
class Released:
    world: World
    registry: LocalRegistry
    repo_name: str
    head: str
    digest: str
    chart_repo: ChartRepo

    @property
    def state(self) -> Path:
        return self.world.root / "release" / ".ellm"


class ChartRepo:
    """A Helm chart repository (an index.yaml over HTTP) that a test can change or take down."""

    def __init__(self) -> None:
        self.versions: list[str] = []
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/index.yaml":
                    self.send_error(404)
                    return
                body = yaml.safe_dump({"apiVersion": "v1", "entries": {"skypilot": [
                    {"name": "skypilot", "version": v, "appVersion": v, "urls": [f"skypilot-{v}.tgz"]}
                    for v in repo.versions]}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/yaml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a client that connected and never sent a request must not hold the teardown
        self.server.daemon_threads = True
        self.server.block_on_close = False
        # select() can report the listener readable while accept() then finds nothing (the
        # connection is gone); a blocking accept would hang serve_forever and with it shutdown()
        self.server.socket.setblocking(False)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


def set_chart_repo(world: World, url: str) -> None:
    text = world.manifest_path.read_text(encoding="utf-8")
    world.manifest_path.write_text(text.replace("https://helm.skypilot.co", url), encoding="utf-8")


@pytest.fixture
def chart_repo() -> Iterator[ChartRepo]:
    repo = ChartRepo()
    yield repo
    repo.stop()


@pytest.fixture
def released(tmp_path: Path, registry: LocalRegistry, repo_name: str, chart_repo: ChartRepo,
             cli: Cli) -> Released:
    """0.13.0 rebased (manifest, branch and README agree), built, smoke-tested and promoted."""
    return make_release(tmp_path, registry, repo_name, chart_repo, cli, promote=True)


def make_release(tmp_path: Path, registry: LocalRegistry, repo_name: str, chart_repo: ChartRepo,
                 cli: Cli, *, promote: bool) -> Released:
    world = build_world(tmp_path / "world", conflict=False, upstreamed=False)
    git(world.fork, "fetch", "-q", "--tags", "upstream", "+refs/heads/*:refs/remotes/upstream/*")
    world.write_manifest("0.12.0", world.base, image_repository=f"{registry.host}/{repo_name}")
    chart_repo.versions = ["0.12.0", VERSION]
    set_chart_repo(world, chart_repo.url)
    code, _, err = cli(world, "rebase", VERSION)
    assert code == 0, err
    head = git(world.fork, "rev-parse", f"ellm-{VERSION}")
    labels = {REVISION: head, VERSION_LABEL: VERSION}
    digest = push_image(registry.url, repo_name, f"v{VERSION}-dev", labels=labels)
    if promote:
        assert push_image(registry.url, repo_name, f"v{VERSION}", labels=labels) == digest  # same bytes
    done = Released(world, registry, repo_name, head, digest, chart_repo)
    pass_smoke(done.state, digest)
    return done


def test_everything_agrees(released: Released, cli: Cli) -> None:
    code, out, err = cli(released.world, "--json", "verify")
    assert code == 0, err
    data = json.loads(out)  # exactly one JSON document on stdout
    assert data["ok"] is True and data["disagreements"] == [] and data["version"] == VERSION
    assert {c["area"] for c in data["checks"] if c["status"] == "ok"} == {
        "branch", "readme", "image", "smoke", "chart"}
    assert "verify 0.13.0: everything agrees" in err
    assert json.loads((released.state / "verify.json").read_text())["ok"] is True


def test_every_disagreement_is_listed_at_once(released: Released, cli: Cli) -> None:
    world, name = released.world, released.repo_name
    # the stable tag is another build, the dev build says another revision and has no smoke record,
    # the README was edited by hand, and the chart repository lacks the version
    push_image(released.registry.url, name, f"v{VERSION}", content=b"other", labels={
        REVISION: released.head, VERSION_LABEL: VERSION})
    dev = push_image(released.registry.url, name, f"v{VERSION}-dev", labels={
        REVISION: "0" * 40, VERSION_LABEL: "0.12.0"})
    git(world.fork, "checkout", "-q", f"ellm-{VERSION}")
    commit_files(world.fork, {"README.md": "# edited by hand\n"}, "Touch up the README")
    released.chart_repo.versions = ["0.12.0"]
    code, out, _ = cli(world, "--json", "verify")
    assert code == 1
    problems = "\n".join(json.loads(out)["disagreements"])
    assert "the stable tag is not the promoted dev build" in problems
    assert f"was built from {'0' * 40}" in problems
    assert "has version label 0.12.0, expected 0.13.0" in problems
    assert f"no passing smoke test is recorded for {dev}" in problems
    assert "README.md on ellm-0.13.0 differs" in problems
    assert "skypilot/skypilot 0.13.0 is not in" in problems
    assert len(json.loads(out)["disagreements"]) >= 6


def test_a_damaged_smoke_record_is_a_disagreement_not_a_crash(released: Released,
                                                              cli: Cli) -> None:
    record = released.state / "smoke" / (released.digest.replace(":", "-") + ".json")
    record.write_text('{"runs": [{"passed": "yes"}]}', encoding="utf-8")
    code, out, err = cli(released.world, "--json", "verify")
    assert code == 1, err
    [smoke] = json.loads(out)["disagreements"]
    assert str(record) in smoke and "damaged" in smoke


def test_branch_drift_fails(released: Released, cli: Cli) -> None:
    git(released.world.fork, "checkout", "-q", f"ellm-{VERSION}")
    commit_files(released.world.fork, {"sky/extra.py": "X = 1\n"}, "[Hotfix] not in the manifest")
    code, out, _ = cli(released.world, "verify")
    assert code == 1
    assert "FAIL  branch" in out and "[Hotfix] not in the manifest" in out  # brackets printed as they are
    assert "was built from" in out  # the images now lag behind the branch head too


def test_unreachable_chart_repository_is_a_note_not_a_failure(released: Released,
                                                              cli: Cli) -> None:
    released.chart_repo.stop()
    code, out, _ = cli(released.world, "--json", "verify")
    assert code == 0
    [chart] = [c for c in json.loads(out)["checks"] if c["area"] == "chart"]
    assert chart["status"] == "skipped" and "could not be reached" in chart["message"]


def test_not_promoted_yet_is_not_a_disagreement(tmp_path: Path, registry: LocalRegistry, repo_name: str,
                                                chart_repo: ChartRepo, cli: Cli) -> None:
    built = make_release(tmp_path, registry, repo_name, chart_repo, cli, promote=False)
    code, out, _ = cli(built.world, "--json", "verify")
    assert code == 0
    assert any(c["status"] == "skipped" and "not promoted" in c["message"] for c in json.loads(out)["checks"])


def test_other_version_and_bad_input(released: Released, cli: Cli) -> None:
    code, out, _ = cli(released.world, "--json", "verify", "0.12.0")
    assert code == 1  # nothing was built for 0.12.0
    data = json.loads(out)
    assert [c["status"] for c in data["checks"] if c["area"] in ("branch", "readme")] == ["skipped", "skipped"]
    assert any("v0.12.0-dev is not in the registry" in d for d in data["disagreements"])
    code, _, err = cli(released.world, "verify", "not-a-version")
    assert code == 2 and "Traceback" not in err and err.count("\n") <= 3


def test_a_token_in_the_chart_repository_url_is_never_printed(released: Released,
                                                             cli: Cli) -> None:
    manifest = released.world.manifest_path
    url = released.chart_repo.url
    manifest.write_text(manifest.read_text().replace(url, url.replace("http://", "http://bot:s3cr3t-t0ken@")))
    released.chart_repo.versions = ["0.12.0"]
    code, out, err = cli(released.world, "--json", "verify")
    assert code == 1
    assert "s3cr3t-t0ken" not in out + err
    assert "http://***@127.0.0.1" in out


def test_options_after_the_subcommand(released: Released, cli: Cli) -> None:
    code, out, _ = cli(released.world, "verify", VERSION, "--insecure-registry")
    assert code == 0, out


# ------------------------------------------------------------------------ the deployed release (helm)

HELM_METADATA = {"name": "skypilot", "chart": "skypilot", "version": VERSION, "appVersion": "1.0.0.dev0",
                 "annotations": None, "namespace": "skypilot", "revision": 4, "status": "deployed",
                 "deployedAt": "2026-11-30T09:12:44.123456789Z"}

HELM_MANIFEST = """\
---
# Source: skypilot/templates/api-service.yaml
apiVersion: v1
kind: Service
metadata:
  name: skypilot-api-service
spec:
  ports:
  - port: 80
---
# Source: skypilot/templates/api-deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: skypilot-api-server
spec:
  template:
    spec:
      initContainers:
      - name: wait
        image: busybox:1.36
      containers:
      - name: skypilot-api
        image: "{image}"
        imagePullPolicy: IfNotPresent
"""


class FakeHelm:
    """Stands in for a cluster: records the argv verify sends and answers as helm 3 does."""

    def __init__(self, image: str, chart_version: str = VERSION, status: str = "deployed"):
        self.calls: list[list[str]] = []
        self.image = image
        self.chart_version = chart_version
        self.status = status

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        if argv[2] == "metadata":
            out = json.dumps({**HELM_METADATA, "version": self.chart_version, "status": self.status})
        else:
            out = HELM_MANIFEST.format(image=self.image)
        return subprocess.CompletedProcess(list(argv), 0, out, "")


def _gather(released: Released, helm: Any, context: str = "prod") -> verify.VerifyReport:
    manifest = load_manifest(released.world.manifest_path)
    request = verify.VerifyRequest(VERSION, kube_context=context, namespace="ellm", release="sky")
    return verify.gather(open_repo(released.world.fork), manifest, released.state, request, helm=helm)


def test_deployed_release_matches_the_stable_digest(released: Released) -> None:
    repository = f"{released.registry.host}/{released.repo_name}"
    helm = FakeHelm(f"{repository}:v{VERSION}@{released.digest}")
    report = _gather(released, helm)
    assert report.ok, report.disagreements
    assert helm.calls == [
        ["helm", "get", "metadata", "sky", "--namespace", "ellm", "--kube-context", "prod", "--output", "json"],
        ["helm", "get", "manifest", "sky", "--namespace", "ellm", "--kube-context", "prod"],
    ]
    assert [c.status for c in report.checks if c.area == "deployed"] == ["ok", "ok"]


def test_deployed_release_with_another_chart_or_digest(released: Released) -> None:
    repository = f"{released.registry.host}/{released.repo_name}"
    other = "sha256:" + "1" * 64
    report = _gather(released, FakeHelm(f"{repository}:v{VERSION}@{other}", chart_version="0.12.0"))
    problems = [c.message for c in report.disagreements]
    assert any("runs chart version 0.12.0, expected 0.13.0" in p for p in problems)
    assert any(f"not the stable digest {released.digest}" in p for p in problems)
    by_tag_only = _gather(released, FakeHelm(f"{repository}:v{VERSION}"))
    assert any("not the stable digest" in c.message for c in by_tag_only.disagreements)
    stuck = _gather(released, FakeHelm(f"{repository}:v{VERSION}@{released.digest}", status="pending-upgrade"))
    assert [c.message for c in stuck.disagreements] == ["release sky in context prod is pending-upgrade, not deployed "
                                                        "(revision 4)"]


def test_real_helm_without_a_reachable_cluster(released: Released, tmp_path: Path,
                                               cli: Cli,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    code, out, err = cli(released.world, "--json", "verify", "--kube-context", "prod")
    assert code == 1
    [deployed] = [c for c in json.loads(out)["checks"] if c["area"] == "deployed"]
    assert deployed["status"] == "fail" and "release skypilot in context prod could not be read" in deployed["message"]
    assert "not-a-real-token" not in out + err
