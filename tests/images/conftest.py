"""Fixtures of the image tests. The daemons they run against (dockerd, registries) are the shared
fixtures of tests/support/daemons.py; a fork and a manifest to build from are in image_project.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's Docker login, registry token or state folder."""
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    for name in ("ELLM_REGISTRY_USER", "ELLM_REGISTRY_TOKEN", "ELLM_STATE_DIR", "ELLM_INSECURE_REGISTRIES",
                 "DOCKER_HOST"):
        monkeypatch.delenv(name, raising=False)
