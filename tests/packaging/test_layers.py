"""The package's areas import downwards only, so a change low in the stack (git plumbing, the
manifest) never has to know about the layers that use it. docs/architecture.md draws the same map."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "release"

# Lower rank first. A module may import its own area and any area of a lower rank. The top-level
# modules (errors, redaction, the record paths, progress) are rank 0 and import only each other.
RANKS: dict[str, int] = {
    "repo": 1,
    "manifest": 2,
    "smoke": 3,
    "images": 4,
    "readme": 5,
    "deploy": 5,
    "rebase": 6,
    "assist": 7,
    "github": 8,
    "demo": 9,
    "cli": 10,
}


def _area(module_path: Path) -> str:
    parts = module_path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else "top"


def _rank(area: str) -> int:
    return RANKS.get(area, 0)


def _release_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "release":
            targets = [node.module] if node.module != "release" else [f"release.{a.name}" for a in node.names]
            found += [(node.lineno, t) for t in targets]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "release"]
    return found


def _imported_area(target: str) -> str | None:
    parts = target.split(".")
    if len(parts) < 2:
        return None
    return parts[1] if (PACKAGE / parts[1]).is_dir() else "top"


def test_every_area_has_a_rank() -> None:
    areas = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert areas == set(RANKS)


def test_areas_import_only_downwards() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py":
            continue  # entry points sit above everything by nature
        area = _area(path)
        for line, target in _release_imports(path):
            other = _imported_area(target)
            if other is None or other == area:
                continue
            if _rank(other) >= _rank(area):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert upward == []


def test_benchmarks_never_import_the_command_line() -> None:
    # a benchmark times the product's work; it starts the command line as a user would, in a process
    benchmarks = PACKAGE.parent / "benchmarks"
    reaching = [f"{path.name}:{line} imports {target}"
                for path in sorted(benchmarks.glob("*.py"))
                for line, target in _release_imports(path)
                if target == "release.cli" or target.startswith("release.cli.")]
    assert reaching == []
