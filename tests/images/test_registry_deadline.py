"""A registry that trickles its answer (one byte at a time, never idle long enough for a read
timeout) does not hang the command: each request has a deadline for its whole answer, and all the
requests of a command one more."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from release.images.registry import RegistryClient, RetryPolicy
from release.images.registry_errors import RegistryUnavailable


@pytest.fixture
def trickling_registry() -> Iterator[str]:
    """A server that answers every request with headers, then a body one byte every 0.2 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            while not stop.is_set():
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.2)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    server.close()


def test_each_request_has_a_deadline_for_its_whole_answer(trickling_registry: str) -> None:
    retries: list[str] = []
    client = RegistryClient(trickling_registry, retry=RetryPolicy(attempts=2, backoff=0.01), timeout=5,
                            request_deadline=1.0, on_retry=retries.append)
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable) as err:
        client.get_manifest("app", "v1-dev")
    assert time.monotonic() - started < 10
    assert "did not answer GET /v2/app/manifests/v1-dev after 2 attempts" in err.value.message
    assert "no complete answer within 1s" in err.value.message
    assert retries and "no complete answer within 1s" in retries[0]  # said while it waits


def test_all_requests_of_a_command_share_one_deadline(trickling_registry: str) -> None:
    client = RegistryClient(trickling_registry, retry=RetryPolicy(attempts=50, backoff=0.01), timeout=5,
                            request_deadline=30, deadline=1.5)
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable) as err:
        client.get_manifest("app", "v1-dev")
    assert time.monotonic() - started < 10
    assert "within 2s in all" in err.value.message
