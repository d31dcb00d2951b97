"""A tiny real fork in a temporary directory, and a manifest that points at its commits.

Layout of the fork (branch ellm-1.0.0, oldest first):
  base      upstream's state: README.md (non-ASCII, an invalid UTF-8 byte, no final newline), sky/*.py
  alpha     sky/a.py, docs/alpha.md
  multi 1   sky/b.py, zz/late.py
  readme    README.md only (a hand-edited fork block from before the tool)
  multi 2   sky/c.py and README.md (README.md must not be listed as a patch file)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from support.git import commit_files, git, init_repo
from support.manifests import Patch, write_manifest

UPSTREAM_README = (
    "<p align=\"center\">Upstream project \u2014 caf\u00e9 \U0001f680</p>\n\n".encode()
    + b"A stray Latin-1 byte: \xe9.\n\n  trailing spaces  \nLast line without a newline"
)
TITLE_ALPHA = "Fix a < b & friends in the scheduler"
TITLE_MULTI = "[Kubernetes] Two-commit patch"
TITLE_GONE = "Patch upstream already merged"


@dataclass(frozen=True)
class Fork:
    path: Path
    manifest: Path
    base: str
    alpha: str
    multi1: str
    readme_only: str
    multi2: str


def build_fork(root: Path) -> Fork:
    """The fork above in root/fork, its manifest in root/manifest.yaml."""
    path = init_repo(root / "fork")
    git(path, "config", "core.autocrlf", "false")
    base = commit_files(path, {
        "README.md": UPSTREAM_README, "sky/a.py": b"a = 1\n", "sky/b.py": b"b = 1\n", "sky/c.py": b"c = 1\n",
    }, "upstream base")
    git(path, "checkout", "-q", "-b", "ellm-1.0.0")
    alpha = commit_files(path, {"sky/a.py": b"a = 2\n", "docs/alpha.md": b"alpha\n"}, "alpha")
    multi1 = commit_files(path, {"sky/b.py": b"b = 2\n", "zz/late.py": b"z\n"}, "multi 1")
    readme_only = commit_files(path, {"README.md": b"## Old fork block\n" + UPSTREAM_README}, "hand-made fork README")
    multi2 = commit_files(path, {"sky/c.py": b"c = 2\n",
                                 "README.md": b"## Old fork block, edited\n" + UPSTREAM_README}, "multi 2")
    manifest = write_readme_manifest(root / "manifest.yaml", base, alpha, [multi1, multi2])
    return Fork(path, manifest, base, alpha, multi1, readme_only, multi2)


def write_readme_manifest(path: Path, base: str, alpha: str, multi: list[str]) -> Path:
    return write_manifest(
        path, version="1.0.0", base=base,
        upstream={"repo": "example-org/sky", "url": "https://github.com/example-org/sky.git"},
        fork={"repo": "ExampleCo/sky"}, image={"repository": "ghcr.io/exampleco/sky"},
        chart={"name": "sky/sky", "repo_url": "https://helm.example.org"},
        patches=[
            Patch("alpha", TITLE_ALPHA, [alpha], "First line of <b>alpha</b>.\n\nAfter a blank line.\n"),
            Patch("gone", TITLE_GONE, ["f" * 40], "Merged upstream.", status="upstreamed",
                  upstream="https://github.com/example-org/sky/pull/1"),
            Patch("multi", TITLE_MULTI, multi, "Two commits, <code>b</code> then <code>c</code>."),
        ])
