"""Credentials in what a registry holds (an image label written by an older build) never reach the
output of `image status`."""

from __future__ import annotations

import json
from pathlib import Path

from image_project import VERSION, state_of, write_image_manifest
from support.cli import run_cli
from support.registry_api import push_image

from release.demo.localdaemons import LocalRegistry
from release.images.manifests import LABEL_REVISION, LABEL_SOURCE, LABEL_VERSION

LEAKED = "ghp_TokenInAnOldLabel0123456789"


def test_image_status_json_strips_credentials_from_labels(tmp_path: Path, registry: LocalRegistry,
                                                          repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    push_image(registry.url, repo_name, f"v{VERSION}-dev", labels={
        LABEL_SOURCE: f"https://ellm-bot:{LEAKED}@github.com/example/fork", LABEL_REVISION: "a" * 40,
        LABEL_VERSION: VERSION})

    for args in (["promote", "--skip-smoke-gate"], ["image", "status", "--json"]):
        done = run_cli(*args, manifest=manifest)
        assert done.code == 0, done
        assert LEAKED not in done.text and "ellm-bot" not in done.text

    record = json.loads((state_of(manifest) / "images" / f"{VERSION}.json").read_text(encoding="utf-8"))
    assert record["source"] == "https://github.com/example/fork"
    assert done.json()["record"]["source"] == "https://github.com/example/fork"
