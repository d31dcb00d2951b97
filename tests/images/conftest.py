"""Real daemons for the image tests: one private dockerd and two docker-registry instances (anonymous,
and htpasswd) for the whole session, on random free ports with temporary storage, stopped by PID.
A missing binary fails the run with the command that installs it: these tests are never skipped."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from release.demo.localdaemons import DockerDaemon, LocalRegistry, RegistryUser

INSTALL = ("run `sudo scripts/setup.sh` (it installs docker.io, docker-registry, apache2-utils, cosign "
           "and buildx into /usr/local/lib/docker/cli-plugins)")

pytestmark = pytest.mark.docker


def _require(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        pytest.fail(f"missing program(s) {', '.join(missing)}: {INSTALL}", pytrace=False)


@pytest.fixture(scope="session")
def docker_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerDaemon]:
    _require("dockerd", "docker")
    if subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False).returncode != 0:
        pytest.fail(f"docker buildx is missing: {INSTALL}", pytrace=False)
    daemon = DockerDaemon(tmp_path_factory.mktemp("dockerd")).start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    _require("docker-registry")
    reg = LocalRegistry(tmp_path_factory.mktemp("registry")).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def registry_user() -> RegistryUser:
    return RegistryUser("ellm-bot", "pw-" + secrets.token_urlsafe(18))


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory, registry_user: RegistryUser) -> Iterator[LocalRegistry]:
    _require("docker-registry", "htpasswd")
    reg = LocalRegistry(tmp_path_factory.mktemp("auth-registry"), user=registry_user).start()
    yield reg
    reg.stop()


@pytest.fixture
def own_registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """A registry for one test, for the tests that kill it."""
    _require("docker-registry")
    reg = LocalRegistry(tmp_path / "own-registry").start()
    yield reg
    reg.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's Docker login, registry token or state folder."""
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    for name in ("ELLM_REGISTRY_USER", "ELLM_REGISTRY_TOKEN", "ELLM_STATE_DIR", "ELLM_INSECURE_REGISTRIES",
                 "DOCKER_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def docker_env(docker_daemon: DockerDaemon, monkeypatch: pytest.MonkeyPatch) -> DockerDaemon:
    monkeypatch.setenv("DOCKER_HOST", docker_daemon.host)
    return docker_daemon


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository per test, so that tests sharing the session registry never see each other's tags."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name.lower()).strip("-")[:40].strip("-")
    return f"ellm/{name}-{secrets.token_hex(3)}"
