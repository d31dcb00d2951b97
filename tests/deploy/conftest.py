"""Fixtures for the deploy tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_helpers import make_env


@pytest.fixture
def deploy_env(tmp_path: Path) -> dict[str, str]:
    return make_env(tmp_path)
