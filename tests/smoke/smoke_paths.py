"""Paths and tool lookups shared by the smoke tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
H100 = FIXTURES / "nvidia-h100"
REPO = Path(__file__).resolve().parents[2]


def need_tool(name: str, install: str) -> str:
    path = shutil.which(name) or (str(REPO / ".venv/bin" / name) if (REPO / ".venv/bin" / name).exists() else None)
    if not path:
        pytest.fail(f"{name} is not installed; install it with: {install}")
    return path
