"""Fixtures of the README tests; the fork they work on is described in readme_fork.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from readme_fork import Fork, build_fork


@pytest.fixture
def fork(tmp_path: Path) -> Fork:
    return build_fork(tmp_path)
