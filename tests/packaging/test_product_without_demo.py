"""The demo scaffolding (sandbox worlds, local daemons, the walkthrough) lives in `release/demo/` and
only the `demo` command reaches it: a wheel built without that folder still does every other job,
and `demo` then says plainly that it is missing."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "release"
DEMO_COMMAND = PACKAGE / "cli" / "commands" / "core.py"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_demo_command_imports_the_demo_package() -> None:
    reaching = sorted(
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if PACKAGE / "demo" not in path.parents and path != DEMO_COMMAND
        and any(name == "release.demo" or name.startswith("release.demo.") for name in _imported_modules(path))
    )
    assert reaching == []
    assert "release.demo.walkthrough" in _imported_modules(DEMO_COMMAND)


def test_a_wheel_without_the_demo_runs_everything_else(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source / "pyproject.toml")
    shutil.copy(ROOT / "LICENSE", source / "LICENSE")
    shutil.copytree(PACKAGE, source / "release", ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = source / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    marker = 'include = ["release*"]'
    assert marker in text
    pyproject.write_text(text.replace(marker, marker + '\nexclude = ["release.demo*"]'), encoding="utf-8")

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("ellm_release-*.whl")
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert not [n for n in archive.namelist() if n.startswith("release/demo/")]
        assert "release/readme/templates/fork_readme.md.j2" in archive.namelist()
        archive.extractall(installed)

    # -S keeps site's .pth files out: the development install's finder would otherwise hand the
    # checkout's release.demo to the extracted wheel. The dependencies come from the same folder.
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), site_packages]), "NO_COLOR": "1"}
    env.pop("PYTHONSAFEPATH", None)

    def ellm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-S", "-m", "release", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    helped = ellm("--help")
    assert helped.returncode == 0, helped.stderr
    assert "rebase" in helped.stdout and "demo" in helped.stdout

    imports = subprocess.run(
        [sys.executable, "-S", "-c",
         "import pkgutil, importlib, release\n"
         "for m in pkgutil.walk_packages(release.__path__, 'release.'):\n"
         "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
         "import release.cli.app\n"
         "print(release.cli.app.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert imports.returncode == 0, imports.stderr
    assert imports.stdout.strip().startswith(str(installed))

    refused = ellm("demo", "--workdir", str(tmp_path / "w"))
    assert refused.returncode == 2, refused.stderr
    assert "built without the demo" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "w").exists()
