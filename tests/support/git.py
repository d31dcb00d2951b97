"""git for the repositories a test builds: one identity, no system or global configuration, and a
failure that says which command failed and what git printed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
}


class GitFailed(RuntimeError):
    """A git command of the test's own setup or inspection failed."""


def git(cwd: Path, *args: str, input_text: str | None = None) -> str:
    """Run `git ARGS` in `cwd`; its stdout, stripped."""
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, input=input_text, capture_output=True, text=True)
    if done.returncode != 0:
        raise GitFailed(f"git {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout.strip()


def init_repo(path: Path, branch: str = "master") -> Path:
    """An empty repository on `branch` (the folder made if missing), with a committer configured."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    # the tool under test commits too, with the repository's own configuration
    git(path, "config", "user.name", IDENTITY["GIT_AUTHOR_NAME"])
    git(path, "config", "user.email", IDENTITY["GIT_AUTHOR_EMAIL"])
    git(path, "config", "commit.gpgsign", "false")
    return path


def commit_files(repo: Path, files: Mapping[str, str | bytes | None], message: str) -> str:
    """Write (text or bytes, exactly) or delete (None) files and commit them; the new commit's SHA."""
    for name, content in files.items():
        if content is None:
            git(repo, "rm", "-q", "--", name)
            continue
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        git(repo, "add", "--", name)
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")
