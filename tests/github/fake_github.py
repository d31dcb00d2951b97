"""A small stateful GitHub API for the GitHub-facing commands: enough of pulls, issues and
comments, served on the test's local HTTP server (pytest-httpserver), with a log of every request it
received and answers a test can queue (server errors, rate limits) before the real ones. GitHub is
the one service these tests cannot run for real, so the fake checks what the tool sends."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

TOKEN = "ghs_NeverPrintThisTokenAnywhere0123456789"
SLUG = "EmbeddedLLM/ellm-release"




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


def serve_fake_github(httpserver: Any, prefix: str) -> FakeGitHub:
    """A FakeGitHub answering every request the test's HTTP server receives, under `prefix`."""
    fake = FakeGitHub(base=httpserver.url_for(prefix).rstrip("/"), prefix=prefix)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    return fake
