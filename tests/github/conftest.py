"""Fixtures for tests/github: the fake GitHub API (fake_github.py) and a release repository layout.

This folder has no __init__.py on purpose: as a package named `github` it would hide PyGithub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_github import FakeGitHub, serve_fake_github
from release_layout import write_gh_manifest

# what a CI runner sets; every test says which of them it uses
GITHUB_VARIABLES = ("GITHUB_TOKEN", "GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL", "GITHUB_RUN_ID",
                    "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "ELLM_STATE_DIR")


@pytest.fixture(autouse=True)
def _no_ci_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real CI environment out of every run."""
    for name in GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def github(httpserver: Any) -> FakeGitHub:
    return serve_fake_github(httpserver, "")


@pytest.fixture
def github_enterprise(httpserver: Any) -> FakeGitHub:
    """The same API under /api/v3, as GitHub Enterprise Server serves it."""
    return serve_fake_github(httpserver, "/api/v3")


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    """A release repository layout: patches/manifest.yaml and a state dir next to it."""
    root = tmp_path / "release-repo"
    manifest = write_gh_manifest(root / "patches" / "manifest.yaml", upstream_url="file:///nowhere", base="a" * 40)
    return {"root": root, "manifest": manifest, "state": root / ".ellm"}
