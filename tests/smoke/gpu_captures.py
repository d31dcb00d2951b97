"""Where the smoke tests' captured tool output lives: real nvidia-smi, rocm-smi and sky output,
saved from the hosts they describe (fixtures/)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
H100 = FIXTURES / "nvidia-h100"
