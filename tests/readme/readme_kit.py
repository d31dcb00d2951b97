"""A tiny real fork in a temporary directory, and a manifest that points at its commits.

Layout of the fork (branch ellm-1.0.0, oldest first):
  base      upstream's state: README.md (non-ASCII, an invalid UTF-8 byte, no final newline), sky/*.py
  alpha     sky/a.py, docs/alpha.md
  multi 1   sky/b.py, zz/late.py
  readme    README.md only (a hand-edited fork block from before the tool)
  multi 2   sky/c.py and README.md (README.md must not be listed as a patch file)
"""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

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


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit_files(cwd: Path, message: str, files: dict[str, bytes]) -> str:
    for name, data in files.items():
        target = cwd / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        git(cwd, "add", "--", name)
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


def write_manifest(path: Path, base: str, alpha: str, multi: list[str], *, extra: str = "") -> Path:
    commits = "\n".join(f"      - {sha}" for sha in multi)
    path.write_text(textwrap.dedent(f"""\
        upstream:
          repo: example-org/sky
          url: https://github.com/example-org/sky.git
          version: 1.0.0
          base: {base}
        fork:
          repo: ExampleCo/sky
          branch: ellm-{{version}}
        image:
          repository: ghcr.io/exampleco/sky
          stable_tag: v{{version}}
          dev_tag: v{{version}}-dev
        chart:
          name: sky/sky
          repo_url: https://helm.example.org
        patches:
          - id: alpha
            title: "{TITLE_ALPHA}"
            status: carry
            commits:
              - {alpha}
            description: |
              First line of <b>alpha</b>.

              After a blank line.
          - id: gone
            title: {TITLE_GONE}
            status: upstreamed
            upstream: https://github.com/example-org/sky/pull/1
            commits:
              - {"f" * 40}
            description: Merged upstream.
          - id: multi
            title: "{TITLE_MULTI}"
            status: carry
            commits:
        """) + commits + "\n" + "    description: Two commits, <code>b</code> then <code>c</code>.\n" + extra,
        encoding="utf-8")
    return path
