"""Exit codes say what happened: one tree of errors, one code per meaning."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import release
from release.errors import (
    EXIT_MEANINGS,
    CheckFailed,
    ConflictStop,
    Failed,
    InternalError,
    Refused,
    ReleaseError,
)


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_error_of_the_tool_exits_with_a_documented_code() -> None:
    for module in pkgutil.walk_packages(release.__path__, "release."):
        if not module.name.endswith("__main__"):  # importing those runs the command line
            importlib.import_module(module.name)
    errors = _all_subclasses(ReleaseError)
    assert {Refused, CheckFailed, ConflictStop, Failed, InternalError} <= errors
    for error in errors:
        assert error.exit_code in EXIT_MEANINGS, error
    assert sorted(EXIT_MEANINGS) == [0, 1, 2, 3, 4, 70]


def test_an_error_without_a_meaning_cannot_be_raised() -> None:
    with pytest.raises(TypeError, match="no exit code"):
        ReleaseError("something went wrong")


@pytest.mark.parametrize(("error", "code"), [(CheckFailed, 1), (Refused, 2), (ConflictStop, 3), (Failed, 4),
                                             (InternalError, 70)])
def test_each_branch_has_its_code(error: type[ReleaseError], code: int) -> None:
    raised = error("x", hints=["y"], data={"partial": True})
    assert (raised.exit_code, raised.message, raised.hints, raised.data) == (code, "x", ["y"], {"partial": True})
