"""The image record has one reader: build, promote, image status, the deploy role's filter and the
nightly job all read it through release/images/record.py, so a damaged record, or one written by
another schema version, is the same one sentence (exit 2) wherever it is read, never a KeyError."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest
from image_project import VERSION, make_fork, state_of, write_image_manifest
from support.cli import run_cli

from release.errors import EXIT_REFUSED
from release.images.record import (
    IMAGE_RECORD_SCHEMA,
    ImageRecord,
    read_image_record,
    record_from_dict,
    update_image_record,
)
from release.records import RecordError, image_record_path

REPO = Path(__file__).resolve().parents[2]
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


# --- the record itself -------------------------------------------------------------------------

def test_updates_merge_and_every_field_is_written_with_the_schema(tmp_path: Path) -> None:
    update_image_record(tmp_path, "0.13.0", repository="ghcr.io/e/s", dev_tag="v0.13.0-dev", dev_digest=A)
    record = update_image_record(tmp_path, "0.13.0", stable_tag="v0.13.0", stable_digest=A, smoke_gate_skipped=False)
    assert record.dev_digest == record.stable_digest == A and record.repository == "ghcr.io/e/s"
    written = json.loads(image_record_path(tmp_path, "0.13.0").read_text())
    assert written == ImageRecord("0.13.0", repository="ghcr.io/e/s", dev_tag="v0.13.0-dev", dev_digest=A,
                                  stable_tag="v0.13.0", stable_digest=A, smoke_gate_skipped=False).to_dict()
    assert written["schema"] == IMAGE_RECORD_SCHEMA
    assert read_image_record(tmp_path, "0.13.0") == record


def test_a_record_written_before_records_had_a_schema_still_reads(tmp_path: Path) -> None:
    path = image_record_path(tmp_path, "0.13.0")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": "0.13.0", "repository": "r", "dev_digest": A, "stable_digest": None,
                                "dev_signature": "key cosign.pub"}))
    assert read_image_record(tmp_path, "0.13.0") == ImageRecord("0.13.0", repository="r", dev_digest=A,
                                                                dev_signature="key cosign.pub")


@pytest.mark.parametrize(("data", "why"), [
    ({"schema": 2, "version": "0.13.0"}, "it has schema 2, and this version of ellm-release reads schema 1 only"),
    ({"version": "0.13.0", "dev_digest": "sha256:short"}, "it is damaged: dev_digest is 'sha256:short', not a sha256"),
    ({"version": "0.13.0", "dev_digest": 7}, "it is damaged: dev_digest is 7, not a string or null"),
    ({"version": "0.13.0", "smoke_gate_skipped": "no"},
     "it is damaged: smoke_gate_skipped is 'no', not true, false or null"),
    ({"version": "0.13.0", "digest": A}, "it has fields this version does not know (digest)"),
    ({"version": "0.12.0"}, "it is the record of version '0.12.0', not of 0.13.0"),
    (["a", "list"], "it is not a JSON object"),
])
def test_a_record_that_cannot_be_trusted_is_refused(tmp_path: Path, data: object, why: str) -> None:
    with pytest.raises(RecordError) as caught:
        record_from_dict(data, tmp_path / "0.13.0.json", "0.13.0")
    assert caught.value.message.startswith(f"{tmp_path / '0.13.0.json'} is not a readable image record: {why}")
    assert caught.value.exit_code == EXIT_REFUSED


def test_commands_updating_one_record_at_once_keep_each_others_fields(tmp_path: Path) -> None:
    """A build and a promote of one version at the same time: each reads, changes and writes the
    record under its lock, so no field one of them wrote is lost to the other's write."""
    fields = ("dev_tag", "revision", "source", "built_at", "stable_tag", "promoted_at", "dev_signature",
              "stable_signature")
    for round_ in range(10):
        version = f"0.13.{round_}"
        start = threading.Barrier(len(fields))

        def update(name: str, version: str = version, start: threading.Barrier = start) -> None:
            start.wait()
            update_image_record(tmp_path, version, **{name: f"{name}-value"})

        threads = [threading.Thread(target=update, args=(name,)) for name in fields]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        record = read_image_record(tmp_path, version)
        assert record is not None and all(getattr(record, name) == f"{name}-value" for name in fields), record


def test_a_damaged_record_is_never_overwritten(tmp_path: Path) -> None:
    path = image_record_path(tmp_path, "0.13.0")
    path.parent.mkdir(parents=True)
    path.write_text('{"version": "0.13.0", "dev_digest": "half')
    with pytest.raises(RecordError, match="it is not JSON"):
        update_image_record(tmp_path, "0.13.0", stable_digest=A)
    assert path.read_text() == '{"version": "0.13.0", "dev_digest": "half'


# --- every reader, one sentence -----------------------------------------------------------------------

DAMAGED = {
    "schema 2": json.dumps({"schema": 2, "version": VERSION, "dev_digest": A}),
    "not JSON": '{"version": "0.13.0", "dev_di',
    "a field of the wrong type": json.dumps({"version": VERSION, "stable_digest": ["sha256:x"]}),
}


def _filter_plugin() -> ModuleType:
    path = REPO / "playbooks" / "roles" / "skypilot_deploy" / "filter_plugins" / "ellm_deploy.py"
    spec = importlib.util.spec_from_file_location("ellm_deploy_filters", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nightly_install_sky(tmp_path: Path, manifest: Path) -> subprocess.CompletedProcess[str]:
    """The nightly job's install-sky step, which checks out the commit the record names."""
    fork = make_fork(tmp_path / "nightly")
    env = {**os.environ, "ELLM_PYTHON": sys.executable, "ELLM": str(Path(sys.executable).parent / "ellm-release"),
           "ELLM_REPO": str(fork), "ELLM_MANIFEST": str(manifest), "ELLM_STATE_DIR": str(state_of(manifest)),
           "BUILD_VERSION": VERSION}
    return subprocess.run(["bash", str(REPO / "scripts" / "nightly-step.sh"), "install-sky"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("damage", sorted(DAMAGED))
def test_every_reader_refuses_a_damaged_record_in_the_same_words(tmp_path: Path, damage: str) -> None:
    """...before any registry is asked: nothing listens where this manifest's images would be."""
    manifest = write_image_manifest(tmp_path, "127.0.0.1:9/ellm/never-asked")
    path = image_record_path(state_of(manifest), VERSION)
    path.parent.mkdir(parents=True)
    path.write_text(DAMAGED[damage])
    with pytest.raises(RecordError) as caught:
        read_image_record(state_of(manifest), VERSION)
    sentence = caught.value.message
    assert sentence.startswith(f"{path} is not a readable image record: ")

    status = run_cli("image", "status", manifest=manifest)
    assert status.code == EXIT_REFUSED and status.error.startswith(sentence + "\n"), status
    assert "Traceback" not in status.text and "KeyError" not in status.text

    promote = run_cli("promote", "--skip-smoke-gate", manifest=manifest, dry_run=True)
    assert promote.code == EXIT_REFUSED and promote.error.startswith(sentence + "\n"), promote

    from ansible.errors import AnsibleFilterError

    read_filter = _filter_plugin().FilterModule().filters()["ellm_read_record"]
    with pytest.raises(AnsibleFilterError) as refused:
        read_filter(str(state_of(manifest)), VERSION)
    assert str(refused.value.message).startswith(sentence)

    nightly = _nightly_install_sky(tmp_path, manifest)
    assert nightly.returncode != 0 and f"error: {sentence}\n" in nightly.stderr
    assert "Traceback" not in nightly.stderr
    assert path.read_text() == DAMAGED[damage]  # no reader rewrote it

