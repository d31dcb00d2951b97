import json

from click.testing import CliRunner
from smoke_paths import H100

from release.commands.smoke import smoke
from release.smoke.record import find_passing_record, read_records

DIGEST = "sha256:" + "ab" * 32


def run(*args: str):
    return CliRunner().invoke(smoke, list(args))


def test_fake_gpus_from_the_real_h100_output():
    res = run("fake-gpus", "--cluster", "skypilot", "--nvidia-smi-csv", str(H100 / "nvidia-smi-query.csv"))
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    assert (
        plan[0]["node"] == "skypilot-worker" and "nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3" in plan[0]["label_args"]
    )


def test_failing_check_exits_1_and_saves(tmp_path):
    out = tmp_path / "o.txt"
    out.write_text("launched fine")
    res = run("check", "over-request", "--output", str(out), "--rc", "0", "--save", str(tmp_path / "f" / "x.json"))
    assert res.exit_code == 1 and "FAIL sky.over-request" in res.output
    assert json.loads((tmp_path / "f" / "x.json").read_text())[0]["passed"] is False


def test_record_pass_opens_the_gate_and_failure_does_not(tmp_path, monkeypatch):
    monkeypatch.setenv("ELLM_STATE_DIR", str(tmp_path / "state"))
    findings = tmp_path / "findings"
    health = tmp_path / "h.json"
    health.write_text('{"status": "healthy", "version": "0.12.0"}')
    assert (
        run(
            "check", "api", "--health", str(health), "--version", "0.12.0", "--save", str(findings / "api.json")
        ).exit_code
        == 0
    )
    base = [
        "record",
        "--findings-dir",
        str(findings),
        "--digest",
        DIGEST,
        "--image",
        "img:v0.12.0-dev",
        "--version",
        "0.12.0",
        "--tier",
        "kind",
    ]
    # A run whose other groups never ran is incomplete: recorded, but not as a pass.
    res = run(*base, "--expect", "api,launch-nvidia")
    assert res.exit_code == 1 and find_passing_record(tmp_path / "state", DIGEST) is None
    assert "did not run" in read_records(tmp_path / "state", DIGEST)[-1].findings[0]
    assert run(*base, "--expect", "api").exit_code == 0
    rec = find_passing_record(tmp_path / "state", DIGEST)
    assert rec is not None and rec.tier == "kind" and rec.version == "0.12.0"


def test_an_unreadable_smoke_record_is_one_clear_error(tmp_path):
    from release.errors import ReleaseError
    from release.smoke.record import record_path

    path = record_path(tmp_path, DIGEST)
    path.parent.mkdir(parents=True)
    for text in ("{not json", '{"runs": [{"digest": "x", "unknown_key": 1}]}', '["a list"]'):
        path.write_text(text)
        try:
            find_passing_record(tmp_path, DIGEST)
        except ReleaseError as exc:
            # broken JSON is caught where every record is read; a foreign shape by the smoke reader
            assert str(path) in exc.message
            assert ("not a readable record" if text.startswith("{not") else "not one this tool wrote") in exc.message
        else:
            raise AssertionError(f"{text!r} was accepted")


def test_record_command_on_an_unreadable_record_exits_2_without_a_traceback(tmp_path, monkeypatch):
    from release.smoke.record import record_path

    monkeypatch.setenv("ELLM_STATE_DIR", str(tmp_path / "state"))
    path = record_path(tmp_path / "state", DIGEST)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    import os
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "release.smoke", "record", "--findings-dir", str(tmp_path / "none"),
                          "--digest", DIGEST, "--image", "img", "--version", "0.12.0", "--tier", "kind"],
                         env=os.environ.copy(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "is not a readable record" in res.stderr
    assert "Traceback" not in res.stderr
    assert path.read_text() == "{not json"
