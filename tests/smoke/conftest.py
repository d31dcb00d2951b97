from __future__ import annotations

import k8s_objects as k
import pytest
from gpu_captures import H100

from release.smoke.gpu_tools import parse_nvidia_query_csv
from release.smoke.nodes import AMD_MI300X_LABELS, gfd_labels


@pytest.fixture
def h100_csv() -> str:
    return (H100 / "nvidia-smi-query.csv").read_text()


@pytest.fixture
def mixed_nodes(h100_csv: str) -> dict:
    inv = parse_nvidia_query_csv(h100_csv)
    return k.node_list(
        k.node("smoke-control-plane"),
        k.node("smoke-worker", gfd_labels(inv, 2), {"nvidia.com/gpu": "2"}),
        k.node("smoke-worker2", dict(AMD_MI300X_LABELS), {"amd.com/gpu": "2"}),
    )
