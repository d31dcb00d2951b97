"""Fixtures: real daemons for the tests that need a registry or a Docker engine. One private dockerd
and two registries (anonymous, and htpasswd) for the whole session, on random free ports with
temporary storage, stopped by PID; a registry of its own for a test that takes it down.

The daemons themselves are the demo's (release.demo.localdaemons); what only tests need is here:
a registry that asks for a user, and a daemon that dies abruptly."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from release.demo.localdaemons import DockerDaemon, LocalRegistry

INSTALL = ("run `sudo scripts/setup.sh` (it installs docker.io, docker-registry, apache2-utils, cosign "
           "and buildx into /usr/local/lib/docker/cli-plugins)")


def need_programs(*names: str) -> None:
    """Fail the test (never skip it) when a daemon's program is missing."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        pytest.fail(f"missing program(s) {', '.join(missing)}: {INSTALL}", pytrace=False)


@dataclass(frozen=True)
class RegistryUser:
    username: str
    password: str

    def __repr__(self) -> str:  # the password stays out of test reports and tracebacks
        return f"RegistryUser({self.username!r}, password=***)"


class AuthRegistry(LocalRegistry):
    """A local registry that asks for `user` (htpasswd basic auth)."""

    def __init__(self, root: Path, user: RegistryUser, *, port: int | None = None):
        super().__init__(root, port=port)
        self.user = user

    def _write_config(self) -> Path:
        config = super()._write_config()
        need_programs("htpasswd")
        htpasswd = self.root / "htpasswd"
        # bcrypt is the only hash distribution accepts; the password goes in on stdin, not argv.
        subprocess.run(["htpasswd", "-iBc", str(htpasswd), self.user.username], input=self.user.password.encode(),
                       check=True, capture_output=True)
        with config.open("a", encoding="utf-8") as out:
            out.write(f"auth:\n  htpasswd:\n    realm: ellm-test\n    path: {htpasswd}\n")
        return config


def kill(daemon: DockerDaemon | LocalRegistry) -> None:
    """Make a daemon die abruptly, as a crashed server would; start() brings it back (same port,
    same storage)."""
    if daemon.proc is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon.proc.pid, signal.SIGKILL)
        daemon.proc.wait(timeout=10)
        daemon.proc = None


@pytest.fixture(scope="session")
def docker_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerDaemon]:
    need_programs("dockerd", "docker")
    if subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False).returncode != 0:
        pytest.fail(f"docker buildx is missing: {INSTALL}", pytrace=False)
    daemon = DockerDaemon(tmp_path_factory.mktemp("dockerd")).start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    need_programs("docker-registry")
    reg = LocalRegistry(tmp_path_factory.mktemp("registry")).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def registry_user() -> RegistryUser:
    return RegistryUser("ellm-bot", "pw-" + secrets.token_urlsafe(18))


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory, registry_user: RegistryUser) -> Iterator[LocalRegistry]:
    need_programs("docker-registry", "htpasswd")
    reg = AuthRegistry(tmp_path_factory.mktemp("auth-registry"), registry_user).start()
    yield reg
    reg.stop()


@pytest.fixture
def own_registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """A registry for one test, for the tests that kill it."""
    need_programs("docker-registry")
    reg = LocalRegistry(tmp_path / "own-registry").start()
    yield reg
    reg.stop()


@pytest.fixture
def docker_env(docker_daemon: DockerDaemon, monkeypatch: pytest.MonkeyPatch) -> DockerDaemon:
    """The session's dockerd as this test's DOCKER_HOST."""
    monkeypatch.setenv("DOCKER_HOST", docker_daemon.host)
    return docker_daemon


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository per test, so that tests sharing the session registry never see each other's tags."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name.lower()).strip("-")[:40].strip("-")
    return f"ellm/{name}-{secrets.token_hex(3)}"
