"""Print the Kubernetes GPU availability that `sky gpus list --infra kubernetes` shows as a table,
as JSON, through SkyPilot's Python SDK (its `-o json` lists the accelerator catalog instead, not
what the cluster has free). Standalone on purpose: it runs with the Python of the sky client,
which need not have ellm-release.

    python sky_gpus.py [--context NAME]
    -> [{"context": "kind-skypilot", "gpus": [{"gpu": "H100", "counts": [1, 2], "capacity": 2, "available": 2}]}]

Exit 3 when this Python has no SkyPilot SDK (the caller then reads the table instead), 1 when the
SDK call fails (its message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

NO_SDK = 3


def as_json(result: Any) -> list[dict[str, Any]]:
    """[(context, [RealtimeGpuAvailability(gpu, counts, capacity, available)])] -> plain JSON."""
    return [{"context": context, "gpus": [{"gpu": str(item.gpu), "counts": [int(c) for c in item.counts],
                                           "capacity": int(item.capacity), "available": int(item.available)}
                                          for item in items]}
            for context, items in result]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", default="", help="Kubernetes context (default: every allowed context)")
    args = parser.parse_args(argv)
    try:
        from sky.client import sdk  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        print(f"no SkyPilot SDK in {sys.executable}: {exc}", file=sys.stderr)
        return NO_SDK
    try:
        request = sdk.realtime_kubernetes_gpu_availability(context=args.context or None)
        result = sdk.stream_and_get(request, output_stream=sys.stderr)
    except Exception as exc:  # the SDK raises its own exception types; any of them is this check's failure
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(as_json(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
