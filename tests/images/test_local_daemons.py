"""The private daemons the demo and the tests start are stopped on exit, however they were started."""

from __future__ import annotations

from pathlib import Path

from release.demo.localdaemons import LocalRegistry


def _processes_serving(config: Path) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if str(config).encode() in argv:
            found.append(int(cmdline.parent.name))
    return found


def test_a_registry_started_then_entered_runs_once_and_stops_on_exit(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    with registry.start() as entered:
        assert entered is registry
        config = next(p for p in (tmp_path / "registry").rglob("*.yml"))
        assert len(_processes_serving(config)) == 1
    assert _processes_serving(config) == []
