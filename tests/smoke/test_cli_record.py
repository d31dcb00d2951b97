"""The record chain on real files: run-start, checks that stamp their findings, record, the gate."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gpu_captures import H100
from support.cli import run_cli
from support.paths import REPO_ROOT

from release.smoke.record import (
    SmokeRecordError,
    gate_verdict,
    read_smoke_record,
    record_path,
)

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "ef" * 32


def start(artifacts: Path) -> tuple[str, Path]:
    res = run_cli("smoke", "run-start", "--artifacts", str(artifacts), "--tier", "kind", "--host", "localhost")
    assert res.code == 0, res.text
    data = res.json()
    return data["run_id"], Path(data["dir"])


HEALTHY = '{"status": "healthy", "version": "0.12.0"}'


def check_api(run_dir: Path, run_id: str, digest: str = DIGEST, body: str = HEALTHY,
              findings: Path | None = None):
    health = run_dir / "health.json"
    health.write_text(body)
    return run_cli("smoke", "check", "api", "--health", str(health), "--version", "0.12.0",
                   "--save", str((findings or run_dir / "findings") / "api.json"), "--run-id", run_id,
                   "--digest", digest)


def record(run_dir: Path | None, state: Path, *extra: str):
    args = ["record", "--digest", DIGEST, "--image", "img:v0.12.0-dev", "--version", "0.12.0", "--tier", "kind",
            "--state-dir", str(state), *extra]
    return run_cli("smoke", *args, *(["--run-dir", str(run_dir)] if run_dir else []))


def test_fake_gpus_from_the_real_h100_output():
    res = run_cli("smoke", "fake-gpus", "--cluster", "skypilot", "--nvidia-smi-csv", str(H100 / "nvidia-smi-query.csv"))
    assert res.code == 0, res.text
    plan = res.json()
    assert (
        plan[0]["node"] == "skypilot-worker" and "nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3" in plan[0]["label_args"]
    )


def test_failing_check_exits_1_and_saves_its_stamped_findings(tmp_path):
    out = tmp_path / "o.txt"
    out.write_text("launched fine")
    res = run_cli("smoke", "check", "over-request", "--output", str(out), "--rc", "0", "--accelerator", "H100",
                  "--count", "9", "--save", str(tmp_path / "f" / "x.json"), "--run-id", "R1", "--digest", DIGEST)
    assert res.code == 1 and "FAIL sky.over-request" in res.text
    saved = json.loads((tmp_path / "f" / "x.json").read_text())
    assert (saved["run_id"], saved["digest"], saved["group"]) == ("R1", DIGEST, "x")
    assert saved["findings"][0]["passed"] is False


def test_each_run_gets_its_own_empty_folder(tmp_path):
    first_id, first = start(tmp_path / "a")
    (first / "findings" / "api.json").write_text("{}")
    second_id, second = start(tmp_path / "a")
    assert first_id != second_id and first != second
    assert list((second / "findings").iterdir()) == []
    assert (first / "findings" / "api.json").exists()  # the old run stays for reading


def test_a_pass_needs_every_expected_group_from_this_run(tmp_path):
    state = tmp_path / "state"
    run_id, run_dir = start(tmp_path / "art")
    assert check_api(run_dir, run_id).code == 0
    # a group that never ran: recorded, but not as a pass
    res = record(run_dir, state, "--expect", "api,launch-nvidia")
    assert res.code == 1 and read_smoke_record(state, DIGEST).latest_passing() is None
    assert "'launch-nvidia' checks did not run" in read_smoke_record(state, DIGEST).runs[-1].findings[0]
    res = record(run_dir, state, "--expect", "api")
    assert res.code == 0, res.text
    rec = read_smoke_record(state, DIGEST).latest_passing()
    assert rec is not None and rec.run_id == run_id and rec.groups == ("api",) and rec.tier == "kind"
    assert gate_verdict(state, DIGEST).allowed


def test_stale_and_foreign_findings_are_set_aside(tmp_path):
    state = tmp_path / "state"
    old_id, old_dir = start(tmp_path / "art")
    assert check_api(old_dir, old_id).code == 0
    run_id, run_dir = start(tmp_path / "art")
    # planted: a passing file from the earlier run, one for another digest, one with no stamp
    (run_dir / "findings" / "api.json").write_text((old_dir / "findings" / "api.json").read_text())
    assert check_api(run_dir, run_id, OTHER, findings=run_dir / "findings").code == 0
    os.replace(run_dir / "findings" / "api.json", run_dir / "findings" / "nodes.json")
    (run_dir / "findings" / "sky-check.json").write_text('[{"check": "sky.check", "passed": true, "message": "x"}]')
    res = record(run_dir, state, "--expect", "nodes,sky-check")
    assert res.code == 1
    [rec] = read_smoke_record(state, DIGEST).runs
    assert rec.passed is False and "set aside" in rec.summary and rec.groups == ()


def test_a_run_that_stopped_early_is_a_failure_with_its_reason(tmp_path):
    state = tmp_path / "state"
    run_id, run_dir = start(tmp_path / "art")
    assert check_api(run_dir, run_id).code == 0
    res = record(run_dir, state, "--expect", "api", "--stopped", "Check that kubectl and the sky client are installed: "
                                                                 "sky is not installed")
    assert res.code == 1 and "sky is not installed" in res.text
    assert record(None, state, "--expect", "api").code == 1
    runs = read_smoke_record(state, DIGEST).runs
    assert [r.passed for r in runs] == [False, False] and "no run was started" in runs[1].summary


def test_an_empty_expectation_never_passes(tmp_path):
    run_id, run_dir = start(tmp_path / "art")
    assert check_api(run_dir, run_id).code == 0
    assert record(run_dir, tmp_path / "state").code == 1


@pytest.mark.parametrize("digest", ["sha256:" + "ab" * 32 + "\n", "sha256:abc", "ab" * 32, "SHA256:" + "AB" * 32,
                                    "sha512:" + "ab" * 64])  # sha256 only: nothing deploys another digest
def test_record_refuses_a_digest_that_is_not_one(tmp_path, digest):
    res = run_cli("smoke", "record", "--digest", digest, "--image", "i", "--version", "0.12.0", "--tier", "kind",
              "--state-dir", str(tmp_path), "--expect", "api")
    assert res.code == 2 and "64 hex digits" in res.error
    assert not (tmp_path / "smoke").exists()


def _edit_record(state: Path, edit) -> None:
    path = record_path(state, DIGEST)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("value", ["false", "true", 1, None, "yes"])
def test_a_hand_edited_pass_is_damage_not_a_pass(tmp_path, value):
    state = tmp_path / "state"
    run_id, run_dir = start(tmp_path / "art")
    assert check_api(run_dir, run_id).code == 0
    assert record(run_dir, state, "--expect", "api").code == 0
    _edit_record(state, lambda d: d["runs"][0].update(passed=value))
    verdict = gate_verdict(state, DIGEST)
    assert not verdict.allowed and "runs[0].passed" in verdict.reason and "damaged" in verdict.reason
    with pytest.raises(SmokeRecordError):
        read_smoke_record(state, DIGEST)


def test_a_record_about_another_digest_or_tier_never_opens_the_gate(tmp_path):
    state = tmp_path / "state"
    run_id, run_dir = start(tmp_path / "art")
    assert check_api(run_dir, run_id).code == 0
    assert record(run_dir, state, "--expect", "api").code == 0
    refused = gate_verdict(state, DIGEST, ("real-nvidia",))
    assert not refused.allowed and "only on tier(s) kind" in refused.reason and "real-nvidia" in refused.reason
    # the file renamed to another digest's name: the run inside names this one
    record_path(state, OTHER).write_text(record_path(state, DIGEST).read_text())
    other = gate_verdict(state, OTHER)
    assert not other.allowed and "not of " + OTHER in other.reason
    _edit_record(state, lambda d: d.update(digest=OTHER) or d["runs"][0].update(digest=OTHER))
    assert f"record of {OTHER!r}, not of {DIGEST}" in gate_verdict(state, DIGEST).reason


@pytest.mark.parametrize("text", ["{not json", '{"runs": [{"digest": "x", "unknown_key": 1}]}', '["a list"]',
                                  '{"schema": 7, "runs": []}', b"\xff\xfe"])
def test_a_damaged_record_is_one_clear_refusal(tmp_path, text):
    path = record_path(tmp_path, DIGEST)
    path.parent.mkdir(parents=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    verdict = gate_verdict(tmp_path, DIGEST)
    assert not verdict.allowed and verdict.reason.startswith(f"{path} is not a readable smoke record: it ")


def test_record_command_on_an_unreadable_record_exits_2_without_a_traceback(tmp_path):
    path = record_path(tmp_path / "state", DIGEST)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    env = {**os.environ, "ELLM_STATE_DIR": str(tmp_path / "state")}
    res = subprocess.run([sys.executable, "-m", "release.smoke", "record", "--digest", DIGEST, "--image", "img",
                          "--version", "0.12.0", "--tier", "kind", "--expect", "api"],
                         env=env, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert res.returncode == 2 and f"{path} is not a readable smoke record: it is not JSON" in res.stderr
    assert "Traceback" not in res.stderr
    assert path.read_text() == "{not json"


def test_python_m_release_smoke_prints_the_error_and_its_hints(tmp_path):
    path = record_path(tmp_path / "state", DIGEST)
    path.parent.mkdir(parents=True)
    path.write_text('{"schema": 1, "runs": [{"passed": "false"}]}')
    res = subprocess.run([sys.executable, "-m", "release.smoke", "record", "--digest", DIGEST, "--image", "img",
                          "--version", "0.12.0", "--tier", "kind", "--expect", "api", "--state-dir",
                          str(tmp_path / "state")], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert res.returncode == 2
    lines = res.stderr.splitlines()
    assert lines[0].startswith(f"error: {path} is not a readable smoke record: it is damaged")
    assert lines[1] == "  move it aside and run the smoke tests again"


@pytest.mark.parametrize("schema", [2, 0.5, "1"])
def test_a_record_of_another_schema_is_refused_by_name_and_kept(tmp_path, schema):
    """A record written by another version of the tool: the gate and the record command both say so
    in one sentence (exit 2), and the file is left as it was."""
    state = tmp_path / "state"
    path = record_path(state, DIGEST)
    path.parent.mkdir(parents=True)
    text = json.dumps({"schema": schema, "kind": "ellm-release smoke record", "digest": DIGEST, "runs": []})
    path.write_text(text)
    verdict = gate_verdict(state, DIGEST)
    expected = (f"{path} is not a readable smoke record: it has schema 2, and this version of ellm-release "
                "reads schema 1 only" if schema == 2 else f"its schema is {schema!r}, not a number")
    assert not verdict.allowed and expected in verdict.reason
    res = subprocess.run([sys.executable, "-m", "release.smoke", "record", "--digest", DIGEST, "--image", "img",
                          "--version", "0.12.0", "--tier", "kind", "--expect", "api", "--state-dir", str(state)],
                         capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert res.returncode == 2 and expected in res.stderr and "Traceback" not in res.stderr
    assert path.read_text() == text


def test_the_run_folder_of_another_tier_is_not_evidence(tmp_path):
    run_id, run_dir = start(tmp_path / "art")  # a kind run
    assert check_api(run_dir, run_id).code == 0
    res = run_cli("smoke", "record", "--run-dir", str(run_dir), "--digest", DIGEST, "--image", "i",
                  "--version", "0.12.0", "--tier", "real-nvidia", "--expect", "api",
                  "--state-dir", str(tmp_path / "state"))
    assert res.code == 1 and "the run folder is of tier kind, not real-nvidia" in res.text


def test_runs_recorded_at_once_are_all_kept(tmp_path):
    """Two tiers finishing together both land in the digest's record."""
    import concurrent.futures

    run_id, run_dir = start(tmp_path / "art")
    assert check_api(run_dir, run_id).code == 0
    argv = [sys.executable, "-m", "release.smoke", "record", "--run-dir", str(run_dir), "--digest", DIGEST,
            "--image", "i", "--version", "0.12.0", "--tier", "kind", "--expect", "api", "--state-dir",
            str(tmp_path / "state")]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(
            lambda _: subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, timeout=120).returncode, range(4)))
    assert codes == [0, 0, 0, 0]
    assert len(read_smoke_record(tmp_path / "state", DIGEST).runs) == 4
