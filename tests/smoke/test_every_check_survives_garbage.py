"""Every check, fed what a broken capture looks like, gives failing findings it saves and exit 1:
never a traceback, never a pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run_cli

from release.errors import EXIT_INTERNAL

GARBAGE = ["", "null", "[]", '"x"', "{}", "42", '{"items": null}', '{"items": [1, "a", null]}',
           "error: the server doesn't have a resource type \"nodes\"", "\x00\xff binary"]


def _args(kind: str, f: str) -> list[str]:
    return {
        "nodes": ["nodes", "--nodes", f, "--expect", "nvidia=any"],
        "api": ["api", "--health", f, "--version", "0.12.0"],
        "sky-check": ["sky-check", "--output", f, "--rc", "0", "--context", "in-cluster"],
        "gpus-list": ["gpus-list", "--output", f, "--rc", "0", "--nodes", f, "--accelerator", "nvidia=H100",
                      "--context", "in-cluster"],
        "launch": ["launch", "--pods", f, "--nodes", f, "--cluster", "c", "--vendor", "nvidia", "--launch-output", f,
                   "--launch-rc", "0", "--status", f, "--accelerator", "H100"],
        "over-request": ["over-request", "--output", f, "--rc", "1", "--accelerator", "H100", "--count", "9"],
        "smi-csv": ["smi", "--vendor", "nvidia", "--format", "nvidia-csv", "--output", f],
        "smi-xml": ["smi", "--vendor", "nvidia", "--format", "nvidia-xml", "--output", f],
        "smi-list": ["smi", "--vendor", "nvidia", "--format", "nvidia-list", "--output", f],
        "smi-rocm": ["smi", "--vendor", "amd", "--format", "rocm-smi-json", "--output", f],
        "smi-amd": ["smi", "--vendor", "amd", "--format", "amd-smi-json", "--output", f],
        "vector-add": ["vector-add", "--result", f],
        "host": ["host", "--probe", f],
    }[kind]


@pytest.mark.parametrize("kind", ["nodes", "api", "sky-check", "gpus-list", "launch", "over-request", "smi-csv",
                                  "smi-xml", "smi-list", "smi-rocm", "smi-amd", "vector-add", "host"])
def test_garbage_is_a_saved_failure(tmp_path: Path, kind: str) -> None:
    for i, text in enumerate(GARBAGE):
        capture, saved = tmp_path / f"in-{i}.txt", tmp_path / "findings" / f"{kind}-{i}.json"
        capture.write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text else b"\x00\xff binary")
        res = run_cli("smoke", "check", *_args(kind, str(capture)), "--save", saved)
        assert res.code != EXIT_INTERNAL, (kind, text, res.text)  # a failed check, never a crash
        assert res.code == 1, (kind, text, res.text)
        findings = json.loads(saved.read_text())["findings"]
        assert findings and not all(f["passed"] for f in findings), (kind, text)
