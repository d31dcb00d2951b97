"""The verdict on a vector add run on a GPU host (see vector_add.py, which runs it there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from release.smoke.findings import Finding, fail, ok

SCRIPT = Path(__file__).with_name("vector_add.py")


def expected_values(n: int) -> tuple[list[float], list[float], float]:
    """c[i] = a[i] + b[i] with a[i] = i and b[i] = 2i, so c[i] = 3i."""
    head = [3.0 * i for i in range(min(8, n))]
    tail = [3.0 * i for i in range(max(0, n - 8), n)]
    return head, tail, 3.0 * n * (n - 1) / 2


def check_vector_add(result: dict[str, Any] | str, subject: str = "") -> list[Finding]:
    printed = result if isinstance(result, str) else json.dumps(result)
    if isinstance(result, str):
        text = result
        try:
            result = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
        except (json.JSONDecodeError, IndexError):
            return [fail("compute.vector-add", f"the vector add printed no result: {text[:200]!r}", subject)]
    try:
        return _judge(result, subject)
    except (AttributeError, TypeError, ValueError, KeyError):
        # the script prints its own fixed shape; anything else is a broken run, never a pass
        return [fail("compute.vector-add", f"the vector add printed a result this check cannot read: "
                     f"{printed.strip()[-200:]!r}", subject)]


def _judge(result: Any, subject: str) -> list[Finding]:
    if not isinstance(result, dict):
        raise TypeError("not an object")
    backend = result.get("backend", "none")
    errors = "; ".join(str(e) for e in result.get("errors") or [])
    if backend == "none":
        why = f" ({errors})" if errors else ""
        return [fail("compute.vector-add", "no GPU compute runtime: neither PyTorch nor CuPy sees a GPU and "
                     f"no vectorAdd sample is on the PATH{why}", subject)]
    if backend == "binary":
        out = str(result.get("output", ""))
        if result.get("rc") == 0 and "PASSED" in out.upper() and "FAIL" not in out.upper():
            return [ok("compute.vector-add", f"{result.get('device')} sample passed", subject)]
        return [fail("compute.vector-add", f"{result.get('device')} sample failed (rc {result.get('rc')}): "
                     f"{out.strip()[-300:]}", subject)]
    n = int(result.get("n", 0))
    if n <= 0:
        return [fail("compute.vector-add", "the vector add returned no values", subject)]
    head, tail, checksum = expected_values(n)
    got_head, got_tail = [float(x) for x in result.get("head") or []], [float(x) for x in result.get("tail") or []]
    got_sum = float(result.get("checksum", float("nan")))
    if got_head != head or got_tail != tail or got_sum != checksum:
        return [fail("compute.vector-add", f"wrong result on {backend} ({result.get('device')}): head "
                     f"{got_head[:4]} expected {head[:4]}, checksum {got_sum} expected {checksum}", subject)]
    return [ok("compute.vector-add", f"{n} elements added correctly on {result.get('device')} via {backend}",
               subject)]
