"""Credentials in what a registry holds (an image label written by an older build) never reach the
output of `image status`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from images_support import VERSION, push_image, state_of, write_manifest

from release.cli.app import main
from release.demo.localdaemons import LocalRegistry
from release.images.build import LABEL_REVISION, LABEL_SOURCE, LABEL_VERSION

LEAKED = "ghp_TokenInAnOldLabel0123456789"


def test_image_status_json_strips_credentials_from_labels(tmp_path: Path, registry: LocalRegistry, repo_name: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_manifest(tmp_path, f"{registry.host}/{repo_name}")
    push_image(registry.url, repo_name, f"v{VERSION}-dev", labels={
        LABEL_SOURCE: f"https://ellm-bot:{LEAKED}@github.com/example/fork", LABEL_REVISION: "a" * 40,
        LABEL_VERSION: VERSION})

    for args in (["promote", "--skip-smoke-gate"], ["image", "status", "--json"]):
        with pytest.raises(SystemExit) as done:
            main(["--manifest", str(manifest), *args])
        out, err = capsys.readouterr()
        assert done.value.code == 0, err
        assert LEAKED not in out + err and "ellm-bot" not in out + err

    record = json.loads((state_of(manifest) / "images" / f"{VERSION}.json").read_text(encoding="utf-8"))
    assert record["source"] == "https://github.com/example/fork"
    assert json.loads(out)["record"]["source"] == "https://github.com/example/fork"
