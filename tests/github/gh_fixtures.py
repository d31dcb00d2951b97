"""Fixtures for the GitHub-facing commands: a small stateful GitHub API on a local HTTP server,
a CLI runner, a saved rebase summary and a synthetic upstream repository."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from werkzeug import Request, Response

from release.errors import ReleaseError
from release.rebase.summary import CommitResult, ConflictInfo, Outcome, PatchResult, RebaseSummary

TOKEN = "ghs_NeverPrintThisTokenAnywhere0123456789"
SLUG = "EmbeddedLLM/ellm-release"


# --------------------------------------------------------------------------------------------------
# A fake GitHub API: enough of pulls and issues, and a log of every request it received


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth: str | None


@dataclass
class FakeGitHub:
    base: str  # API root as the client sees it, e.g. http://127.0.0.1:PORT or .../api/v3
    prefix: str  # path prefix of the API root ("" or "/api/v3")
    token: str = TOKEN
    pulls: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    next_number: int = 1
    # answers to give before the real ones, in order: (method, status, headers, body)
    faults: list[tuple[str, int, dict[str, str], Any]] = field(default_factory=list)

    def writes(self) -> list[Seen]:
        return [s for s in self.seen if s.method != "GET"]

    # -- state helpers for tests -------------------------------------------------------------------

    def add_pull(self, head: str, base: str, body: str = "old body", title: str = "old title",
                 state: str = "open") -> dict[str, Any]:
        number = self._number()
        owner = SLUG.split("/")[0]
        pull = {"number": number, "id": number, "state": state, "title": title, "body": body, "draft": False,
                "url": f"{self.base}/repos/{SLUG}/pulls/{number}",
                "html_url": f"https://github.example/{SLUG}/pull/{number}",
                "head": {"ref": head, "label": f"{owner}:{head}"}, "base": {"ref": base, "label": f"{owner}:{base}"}}
        self.pulls.append(pull)
        return pull

    def add_issue(self, labels: list[str], title: str = "Nightly rebase run is failing", state: str = "open",
                  is_pull: bool = False) -> dict[str, Any]:
        number = self._number()
        kind = "pull" if is_pull else "issues"
        issue = {"number": number, "id": number, "state": state, "title": title, "body": "",
                 "labels": [{"name": name} for name in labels],
                 "url": f"{self.base}/repos/{SLUG}/issues/{number}",
                 "html_url": f"https://github.example/{SLUG}/{kind}/{number}",
                 "comments_url": f"{self.base}/repos/{SLUG}/issues/{number}/comments"}
        self.issues.append(issue)
        return issue

    def _number(self) -> int:
        self.next_number += 1
        return self.next_number - 1

    # -- the HTTP side -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True)) if request.get_data() else None
        self.seen.append(Seen(request.method, request.path, dict(request.args), body,
                              request.headers.get("Authorization")))
        if request.headers.get("Authorization") not in (f"token {self.token}", f"Bearer {self.token}"):
            return self._json({"message": "Bad credentials", "documentation_url": "https://docs.github.com"}, 401)
        fault = next((f for f in self.faults if f[0] == request.method), None)
        if fault is not None:
            self.faults.remove(fault)
            return Response(json.dumps(fault[3]), status=fault[1], headers=fault[2], content_type="application/json")
        if isinstance(body, dict) and len(str(body.get("body") or "")) > 65536:  # what GitHub answers
            return self._json({"message": "Validation Failed", "errors": [
                {"resource": "PullRequest" if "/pulls" in request.path else "Issue", "code": "custom", "field": "body",
                 "message": "body is too long (maximum is 65536 characters)"}],
                "documentation_url": "https://docs.github.com/rest"}, 422)
        path = request.path.removeprefix(self.prefix)
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and request.method == method:
                return handler(request, body, *match.groups())
        return self._json({"message": "Not Found"}, 404)

    def _routes(self) -> list[tuple[str, str, Any]]:
        repo = re.escape(f"/repos/{SLUG}")
        return [
            ("GET", f"{repo}/pulls", self._list_pulls),
            ("POST", f"{repo}/pulls", self._create_pull),
            ("PATCH", f"{repo}/pulls/(\\d+)", self._edit_pull),
            ("GET", f"{repo}/issues", self._list_issues),
            ("POST", f"{repo}/issues", self._create_issue),
            ("PATCH", f"{repo}/issues/(\\d+)", self._edit_issue),
            ("POST", f"{repo}/issues/(\\d+)/comments", self._comment),
        ]

    def _list_pulls(self, request: Request, _body: Any) -> Response:
        state, head, base = request.args.get("state", "open"), request.args.get("head"), request.args.get("base")
        out = [p for p in self.pulls if p["state"] == state and (head is None or p["head"]["label"] == head)
               and (base is None or p["base"]["ref"] == base)]
        return self._json(out)

    def _create_pull(self, _request: Request, body: Any) -> Response:
        if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in self.pulls):
            return self._json({"message": "Validation Failed", "errors": [
                {"message": f"A pull request already exists for {body['head']}."}]}, 422)
        pull = self.add_pull(body["head"], body["base"], body["body"], body["title"])
        pull["draft"] = body.get("draft", False)
        return self._json(pull, 201)

    def _edit_pull(self, _request: Request, body: Any, number: str) -> Response:
        pull = next(p for p in self.pulls if p["number"] == int(number))
        pull.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
        return self._json(pull)

    def _list_issues(self, request: Request, _body: Any) -> Response:
        wanted = set(filter(None, request.args.get("labels", "").split(",")))
        state = request.args.get("state", "open")
        out = [i for i in self.issues if i["state"] == state and wanted <= {lb["name"] for lb in i["labels"]}]
        return self._json(out)

    def _create_issue(self, _request: Request, body: Any) -> Response:
        issue = self.add_issue(body.get("labels", []), body["title"])
        issue["body"] = body.get("body", "")
        return self._json(issue, 201)

    def _edit_issue(self, _request: Request, body: Any, number: str) -> Response:
        issue = next(i for i in self.issues if i["number"] == int(number))
        issue.update({k: v for k, v in body.items() if k in ("state", "title", "body", "state_reason")})
        return self._json(issue)

    def _comment(self, _request: Request, body: Any, number: str) -> Response:
        self.comments.setdefault(int(number), []).append(body["body"])
        cid = sum(len(c) for c in self.comments.values())
        return self._json({"id": cid, "body": body["body"],
                           "url": f"{self.base}/repos/{SLUG}/issues/comments/{cid}",
                           "html_url": f"https://github.example/{SLUG}/issues/{number}#issuecomment-{cid}"}, 201)

    @staticmethod
    def _json(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, content_type="application/json")


def _fake(httpserver: Any, prefix: str) -> FakeGitHub:
    fake = FakeGitHub(base=httpserver.url_for(prefix).rstrip("/"), prefix=prefix)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    return fake


@pytest.fixture
def github(httpserver: Any) -> FakeGitHub:
    return _fake(httpserver, "")


@pytest.fixture
def github_enterprise(httpserver: Any) -> FakeGitHub:
    """The same API under /api/v3, as GitHub Enterprise Server serves it."""
    return _fake(httpserver, "/api/v3")


# --------------------------------------------------------------------------------------------------
# Running the CLI


def _group() -> click.Group:
    """The real command line, global options and all."""
    from release.cli.app import cli

    return cli


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    error: str  # what main() prints for a ReleaseError: the message and its hints

    @property
    def all_text(self) -> str:
        return "\n".join((self.stdout, self.stderr, self.error))

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(args: list[str], env: dict[str, str | None] | None = None) -> Run:
    # Keep the real CI environment out: every test says which GitHub variables it sets.
    base_env: dict[str, str | None] = {k: None for k in (
        "GITHUB_TOKEN", "GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL", "GITHUB_RUN_ID",
        "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "ELLM_STATE_DIR")}
    base_env.update(env or {})
    result: Result = CliRunner().invoke(_group(), args, env=base_env, standalone_mode=False)
    error, code = "", result.exit_code
    if isinstance(result.exception, ReleaseError):
        error = "\n".join([result.exception.message, *result.exception.hints])
        code = result.exception.exit_code
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(code, result.stdout, result.stderr, error)


# --------------------------------------------------------------------------------------------------
# A manifest, a saved summary


MANIFEST = """\
upstream:
  repo: skypilot-org/skypilot
  url: {upstream_url}
  remote: upstream
  version: 0.12.0
  base: {base}
fork:
  repo: EmbeddedLLM/skypilot
  remote: origin
  branch: ellm-{{version}}
image:
  repository: 127.0.0.1:5000/embeddedllm/skypilot
  stable_tag: v{{version}}
  dev_tag: v{{version}}-dev
chart:
  name: skypilot/skypilot
patches:
  - id: dual-gpu-api-server
    title: Enable dual GPU in a single API server
    status: carry
    commits: [{c1}]
    description: Counts GPUs of both vendors.
  - id: amd-gpu-detection
    title: Automatic AMD GPU detection via device plugin labels
    status: carry
    commits: [{c2}]
    description: Reads the AMD device plugin's labels.
"""


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    """A release repository layout: patches/manifest.yaml and a state dir next to it."""
    root = tmp_path / "release-repo"
    (root / "patches").mkdir(parents=True)
    manifest = root / "patches" / "manifest.yaml"
    manifest.write_text(MANIFEST.format(upstream_url="file:///nowhere", base="a" * 40, c1="c1" * 20, c2="c2" * 20))
    return {"root": root, "manifest": manifest, "state": root / ".ellm"}


def sample_summary(*, conflict: bool = False) -> RebaseSummary:
    old1, new1, old2, new2 = "1" * 40, "3" * 40, "2" * 40, "4" * 40
    first = PatchResult(id="dual-gpu-api-server", title="Enable dual GPU in a single API server",
                        outcome=Outcome.CLEAN, commits=(CommitResult(old1, new1, Outcome.CLEAN),),
                        files=("sky/provision/kubernetes/utils.py",))
    if conflict:
        second = PatchResult(id="amd-gpu-detection", title="Automatic AMD GPU detection via device plugin labels",
                             outcome=Outcome.CONFLICT, commits=(CommitResult(old2, None, Outcome.CONFLICT),),
                             files=("sky/clouds/kubernetes.py",))
        info = ConflictInfo(patch_id="amd-gpu-detection",
                            patch_title="Automatic AMD GPU detection via device plugin labels",
                            commit=old2, subject="Detect AMD GPUs from device plugin labels",
                            files=("sky/clouds/kubernetes.py", "sky/utils/kubernetes_enums.py"),
                            next_commands=("git -C skypilot status", "ellm-release continue"))
        return RebaseSummary(version="0.13.0", branch="ellm-0.13.0", base="b" * 40, base_ref="v0.13.0",
                             previous_version="0.12.0", previous_base="a" * 40, state="conflict",
                             patches=(first, second), conflict=info)
    second = PatchResult(id="amd-gpu-detection", title="Automatic AMD GPU detection via device plugin labels",
                         outcome=Outcome.CHANGED, commits=(CommitResult(old2, new2, Outcome.CHANGED),),
                         files=("sky/clouds/kubernetes.py",),
                         range_diff="1:  2222222 ! 1:  4444444 Detect AMD GPUs\n    @@ -1 +1 @@\n    -old\n    +new\n")
    return RebaseSummary(version="0.13.0", branch="ellm-0.13.0", base="b" * 40, base_ref="v0.13.0",
                         previous_version="0.12.0", previous_base="a" * 40, state="complete",
                         patches=(first, second))


def save_summary(state: Path, summary: RebaseSummary) -> Path:
    state.mkdir(parents=True, exist_ok=True)
    path = state / "last-rebase.json"
    path.write_text(json.dumps(summary.to_dict(), indent=2))
    return path


# --------------------------------------------------------------------------------------------------
# Git helpers


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null",
           "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()
