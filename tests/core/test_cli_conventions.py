"""The command line's conventions hold everywhere (CONTRIBUTING.md, "Adding a command"): one
registry, one pass_options, one way to attach examples, one to_dict convention, and Rich only
inside release/cli/."""

from __future__ import annotations

import ast
import importlib
import json
from enum import StrEnum
from pathlib import Path

import click
import pytest

from release.cli import registry
from release.cli.examples import examples, examples_of
from release.cli.output import Options, options_of, pass_options
from release.manifest.model import PATCH_STATUSES, PatchStatus
from release.rebase.summary import SummaryState

PACKAGE = Path(__file__).resolve().parents[2] / "release"
COMMAND_MODULES = sorted((PACKAGE / "cli" / "commands").glob("*.py"))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("library", ["rich", "click"])
def test_only_the_command_line_imports_rich_or_click(library: str) -> None:
    outside = [str(path.relative_to(PACKAGE.parent)) for path in sorted(PACKAGE.rglob("*.py"))
               if "cli" not in path.relative_to(PACKAGE).parts[:1] and path.name != "__main__.py"
               and any(name.split(".")[0] == library for name in _imports(path))]
    assert outside == [], "areas hand plain text and data to release/cli/, which alone prints and styles it"


@pytest.mark.parametrize("path", COMMAND_MODULES, ids=lambda path: path.name)
def test_command_modules_share_the_conventions(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "make_pass_decorator" not in text and "pass_obj" not in text, "use release.cli.output.pass_options"
    assert "epilog" not in text, "attach examples with @examples"
    assert "COMMANDS" not in text, "commands are listed once, in release/cli/registry.py"


def test_no_result_has_a_to_json_beside_to_dict() -> None:
    found = [str(path.relative_to(PACKAGE.parent)) for path in sorted(PACKAGE.rglob("*.py"))
             if "def to_json(" in path.read_text(encoding="utf-8")]
    assert found == []


def test_every_registry_entry_names_its_command_and_no_module_is_left_out() -> None:
    listed = {entry.module for entry in registry.REGISTRY}
    assert listed == {f"release.cli.commands.{path.stem}" for path in COMMAND_MODULES if path.stem != "__init__"}
    for entry in registry.REGISTRY:
        command = getattr(importlib.import_module(entry.module), entry.attribute)
        assert isinstance(command, click.Command) and command.name == entry.name
    assert registry.load("no-such-command") is None


def test_examples_go_above_the_click_decorator() -> None:
    with pytest.raises(TypeError, match="above"):
        examples("ellm-release status")(lambda: None)  # type: ignore[type-var]
    with pytest.raises(ValueError):
        examples()


def test_pass_options_hands_over_the_run_options_or_defaults() -> None:
    seen: list[Options] = []

    @click.command()
    @pass_options
    def probe(opts: Options) -> None:
        seen.append(opts)

    mine = Options(dry_run=True)
    probe.main([], standalone_mode=False, obj=mine)
    probe.main([], standalone_mode=False)  # invoked on its own: defaults, never a crash
    assert seen[0] is mine and seen[1] == Options()
    assert options_of(click.Context(probe, obj=mine)) is mine
    assert examples_of(probe) == ()


def test_string_states_are_enums_whose_json_is_their_text() -> None:
    assert PATCH_STATUSES == ("carry", "upstreamed", "dropped")
    assert json.dumps({"status": PatchStatus.DROPPED, "state": SummaryState.DRY_RUN}) == \
        '{"status": "dropped", "state": "dry-run"}'
    assert "aborted" not in set(SummaryState)
    assert all(issubclass(kind, StrEnum) for kind in (PatchStatus, SummaryState))
