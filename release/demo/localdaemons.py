"""Start and stop a private Docker daemon and a local OCI registry, for the demo, the tests and the
benchmark. Nothing here touches the machine's own Docker: each daemon gets its own data root,
exec root, socket and pidfile under a folder the caller owns, and is stopped by its PID.

    with DockerDaemon(tmp / "docker") as daemon, LocalRegistry(tmp / "registry") as registry:
        env = daemon.env()                # DOCKER_HOST=unix://.../docker.sock
        image = f"{registry.host}/demo/app:v1"
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import requests

from release.errors import Failed

INSTALL_HINT = "install them with: sudo scripts/setup.sh (apt-get install -y docker.io docker-registry)"


class DaemonError(Failed):
    """A local daemon could not be started, or a binary it needs is missing."""


def require_binaries(*names: str) -> dict[str, str]:
    """Absolute paths of the named programs; one error listing every missing one."""
    found = {name: shutil.which(name) for name in names}
    missing = [name for name, where in found.items() if where is None]
    if missing:
        raise DaemonError(f"missing program(s): {', '.join(missing)}", hints=[INSTALL_HINT])
    return {name: str(where) for name, where in found.items()}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the registry binds it right away)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DaemonError(f"{what} exited with code {proc.returncode} while starting",
                              hints=[f"its log: {log}", *_tail(log)])
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise DaemonError(f"{what} did not become ready within {timeout:.0f}s", hints=[f"its log: {log}", *_tail(log)])


def _tail(log: Path, lines: int = 5) -> list[str]:
    try:
        return log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def unmount_under(root: Path) -> None:
    """Lazily unmount whatever is still mounted below `root`, deepest first."""
    prefix = str(Path(root).resolve())
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    points = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        point = fields[1].encode().decode("unicode_escape")  # /proc/mounts writes a space as \040
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


class _Process(ABC):
    """Common start/stop bookkeeping for one background daemon."""

    name = "daemon"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.root / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, argv: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A new session, so a Ctrl-C meant for the caller does not kill the daemon mid-stop.
            return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env={**os.environ, **(env or {})}, start_new_session=True)

    @abstractmethod
    def _ping(self) -> bool:
        """True once the daemon answers requests."""

    def _ready(self, timeout: float, what: str) -> None:
        assert self.proc is not None
        try:
            _wait_for(self._ping, timeout, what, self.proc, self.log_path)
        except BaseException:
            self.stop()  # never leave a half-started daemon behind
            raise

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class DockerDaemon(_Process):
    """A private dockerd. Without a bridge or iptables so that it never clashes with another daemon
    on the same machine; builds FROM scratch or from local images need neither."""

    name = "dockerd"

    def __init__(self, root: Path, *, storage_driver: str | None = None, extra_args: tuple[str, ...] = ()):
        super().__init__(root)
        # unix sockets are limited to ~107 bytes; keep the socket path short when the root is deep.
        self.socket = self.root / "docker.sock"
        if len(str(self.socket)) > 100:
            self.socket = Path("/tmp") / f"ellm-docker-{secrets.token_hex(4)}.sock"
        # containerd puts its sockets under the exec root: a deep root would pass the socket limit.
        self.exec_root = self.root / "exec"
        self._temp_exec = len(str(self.exec_root)) > 48
        if self._temp_exec:
            self.exec_root = Path(tempfile.mkdtemp(prefix="ellm-dx-", dir="/tmp"))
        self.storage_driver = storage_driver
        self.extra_args = extra_args

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def start(self, timeout: float = 60.0) -> DockerDaemon:
        paths = require_binaries("dockerd", "docker")
        argv = [paths["dockerd"], "--data-root", str(self.root / "data"), "--exec-root", str(self.exec_root),
                "--pidfile", str(self.root / "pid"), "-H", self.host, "--iptables=false", "--bridge=none",
                "--ip-masq=false", *self.extra_args]
        if self.storage_driver:
            argv += ["--storage-driver", self.storage_driver]
        self.proc = self._spawn(argv)
        self._ready(timeout, "dockerd")
        return self

    def stop(self) -> None:
        super().stop()
        unmount_under(self.root)  # a daemon that died while starting may leave its data root mounted
        if self._temp_exec:
            unmount_under(self.exec_root)
            shutil.rmtree(self.exec_root, ignore_errors=True)

    def _ping(self) -> bool:
        result = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                                env={**os.environ, **self.env()}, capture_output=True, timeout=10, check=False)
        return result.returncode == 0

    def __enter__(self) -> DockerDaemon:
        # `with X(...).start() as x` is common: a second start would leak the first process
        return self if self.running else self.start()


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: {secret}
"""


class LocalRegistry(_Process):
    """`docker-registry serve` (CNCF distribution), anonymous, on 127.0.0.1 with storage in
    `root/storage`. Its request log (`log_path`) lets callers count what a client sent, e.g. blob
    uploads. `_write_config` is the one place its configuration is made."""

    name = "registry"

    def __init__(self, root: Path, *, port: int | None = None):
        super().__init__(root)
        self.port = port or free_port()
        self.storage = self.root / "storage"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def _write_config(self) -> Path:
        config = self.root / "config.yml"
        config.write_text(REGISTRY_CONFIG.format(storage=self.storage, port=self.port, secret=secrets.token_hex(16)))
        return config

    def start(self, timeout: float = 30.0) -> LocalRegistry:
        paths = require_binaries("docker-registry")
        self.storage.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        self.proc = self._spawn([paths["docker-registry"], "serve", str(config)])
        self._ready(timeout, "docker-registry")
        return self

    def _ping(self) -> bool:
        # 200 anonymous, 401 with auth: either way the API answers.
        return requests.get(f"{self.url}/v2/", timeout=2).status_code in (200, 401)

    def log_offset(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def requests_since(self, offset: int) -> list[tuple[str, str]]:
        """(method, path) of every request in the access log written after `offset`."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        return [req for line in text.splitlines() if (req := _access_line(line))]

    def blob_uploads_since(self, offset: int) -> list[str]:
        """Blob upload requests (POST/PATCH/PUT under /blobs/uploads/) since `offset`."""
        return [f"{m} {p}" for m, p in self.requests_since(offset) if "/blobs/uploads/" in p and m != "GET"]

    def __enter__(self) -> LocalRegistry:
        # `with X(...).start() as x` is common: a second start would leak the first process
        return self if self.running else self.start()


def _access_line(line: str) -> tuple[str, str] | None:
    """Parse distribution's combined access-log line: `127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 ...`."""
    start = line.find('"')
    if start < 0:
        return None
    end = line.find('"', start + 1)
    parts = line[start + 1:end].split(" ")
    if len(parts) == 3 and parts[2].startswith("HTTP/") and parts[1].startswith("/v2"):
        return parts[0], parts[1]
    return None
