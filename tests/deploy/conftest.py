"""Fixtures for the deploy tests; running the playbooks and helm is in playbook_runs.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from playbook_runs import make_env


@pytest.fixture
def deploy_env(tmp_path: Path) -> dict[str, str]:
    """Environment for ansible and helm: homes in tmp, an empty state dir, no inherited secrets."""
    return make_env(tmp_path)
