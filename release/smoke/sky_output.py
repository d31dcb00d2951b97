"""Readers for what the `sky` client prints, and the checks on it.

Structured output first, wherever the fork's client has it: `sky status -o json` (the cluster
records, accelerators included), `sky check -o json` (the enabled clouds) and, for the GPU counts
per context, the SDK's `realtime_kubernetes_gpu_availability` printed as JSON by
release/smoke/sky_gpus.py. Each reader takes that JSON when the captured output holds it and falls
back to the tables below for clients without it. Only the per-context states of `sky check` have
no structured form (its JSON names clouds, not contexts), so they are always read from the text.

`sky gpus list --infra kubernetes` (`sky show-gpus --cloud kubernetes` before 0.10) prints, per
context, a borderless left-aligned table `GPU  REQUESTABLE_QTY_PER_NODE  UTILIZATION` whose
utilization cells read "<free> of <total> free", then a per-node table. Tables are read by the
column offsets of their header row, because cells such as "1, 2, 4" contain spaces. `sky check`
ends with an "Enabled infra" (older: "Enabled clouds") section listing e.g. "Kubernetes [compute]".
`sky status --kubernetes` prints `USER NAME RESOURCES STATUS ...` with resources such as
"1x(gpus=H100:1, cpus=2, mem=8, ...)". `/api/health` returns JSON with `status` and `version`.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from release.manifest.versions import reports_release
from release.smoke.findings import Finding, fail, ok

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text).replace("\r", "")


def json_document(text: str) -> Any | None:
    """The JSON document a `-o json` run printed, found among the client's other lines ("Using
    SkyPilot API server: ..." goes to the same capture); None when the output holds none."""
    clean = strip_ansi(text)
    decoder = json.JSONDecoder()
    for start in re.finditer(r"^[\[{]", clean, re.M):
        try:
            return decoder.raw_decode(clean, start.start())[0]
        except ValueError:
            continue
    return None


def read_table(lines: list[str], start: int) -> tuple[list[dict[str, str]], int]:
    """Rows of the borderless table whose header is lines[start]; stops at a blank line."""
    header = lines[start]
    cols = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", header)]
    rows, i = [], start + 1
    while i < len(lines) and lines[i].strip():
        line = lines[i]
        # A row has blanks just before every column start; a title line after the table does not.
        if any(pos > 0 and len(line) > pos and line[pos - 1] != " " for pos, _ in cols[1:]):
            break
        row = {}
        for j, (pos, name) in enumerate(cols):
            end = cols[j + 1][0] if j + 1 < len(cols) else None
            row[name] = line[pos:end].strip() if end else line[pos:].strip()
        rows.append(row)
        i += 1
    return rows, i


@dataclass(frozen=True)
class GpuRow:
    context: str
    gpu: str
    per_node: tuple[int, ...]
    free: int | None
    total: int | None


_UTIL_RE = re.compile(r"(?P<free>\d+|<no permissions>)\s+of\s+(?P<total>\d+)\s+free")


def gpus_from_json(data: Any) -> list[GpuRow] | None:
    """Rows from sky_gpus.py's JSON (the SDK's availability per context); None if it is not that."""
    if not isinstance(data, list) or not all(isinstance(c, dict) and isinstance(c.get("gpus"), list) for c in data):
        return None
    rows = []
    for block in data:
        for gpu in block["gpus"]:
            available = gpu.get("available")
            # the SDK reports -1 where it may not list pods (the table's "<no permissions>")
            free = available if isinstance(available, int) and available >= 0 else None
            total = gpu.get("capacity") if isinstance(gpu.get("capacity"), int) else None
            rows.append(GpuRow(str(block.get("context") or ""), str(gpu.get("gpu", "")),
                               tuple(int(c) for c in gpu.get("counts") or ()), free, total))
    return rows


def parse_gpus_list(text: str) -> list[GpuRow]:
    structured = gpus_from_json(json_document(text))
    if structured is not None:
        return structured
    lines = strip_ansi(text).splitlines()
    rows: list[GpuRow] = []
    context, i = "", 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^\s*(?:Context|Kubernetes context):\s*(\S+)", line)
        if m:
            context = m.group(1)
        elif re.match(r"^\s*Default Context\b", line):
            context = ""
        head = line.split()
        if head[:1] == ["GPU"] and "UTILIZATION" in line and ("REQUESTABLE_QTY_PER_NODE" in line
                                                                or "QTY_PER_NODE" in line):
            table, i = read_table(lines, i)
            for r in table:
                qty_key = next(k for k in r if "QTY" in k)
                util = _UTIL_RE.search(r.get("UTILIZATION", ""))
                free = int(util.group("free")) if util and util.group("free").isdigit() else None
                total = int(util.group("total")) if util else None
                per_node = tuple(int(x) for x in re.findall(r"\d+", r.get(qty_key, "")))
                rows.append(GpuRow(context, r.get("GPU", ""), per_node, free, total))
            continue
        i += 1
    return rows


# SkyPilot's names for NVIDIA GPU Feature Discovery products (GFDLabelFormatter in
# sky/provision/kubernetes/utils.py): the first of these found as a whole word in the label value is
# the accelerator's name; otherwise the value upper-cased without "NVIDIA-", "GEFORCE-" and "RTX-".
CANONICAL_GPU_NAMES = ("A100-80GB", "A100", "A10G", "H100", "K80", "M60", "T4G", "T4", "V100", "A10", "P4000",
                       "P100", "P40", "P4", "L40", "L4")


def canonical_gpu_name(name: str) -> str:
    """The accelerator name SkyPilot lists for a GFD product name (NVIDIA-H100-80GB-HBM3 -> H100);
    any other name (H100, MI300X, H100-MEGA) is already an accelerator name."""
    value = name.strip().upper()
    if not value.startswith("NVIDIA"):
        return value
    for canonical in CANONICAL_GPU_NAMES:
        if canonical == "A100-80GB" and re.search(r"A100.*-80GB", value):
            return canonical
        if re.search(rf"\b{re.escape(canonical)}\b", value):
            return canonical
    return value.replace("NVIDIA-", "").replace("GEFORCE-", "").replace("RTX-", "RTX")


def gpu_name_matches(wanted: str, listed: str) -> bool:
    """`listed` is a name SkyPilot printed, already canonical; it must be the wanted accelerator
    exactly, or what SkyPilot makes of the wanted name. H100 is not H100-MEGA nor H100-80GB."""
    return listed.strip().upper() == canonical_gpu_name(wanted)


def rows_for_context(rows: list[GpuRow], context: str | None) -> list[GpuRow]:
    """The rows of the tier's own context. Output with no context headings at all (one context,
    older clients) counts as that context; a table under another context never does."""
    if context is None:
        return rows
    named = [r for r in rows if r.context == context]
    if named or any(r.context for r in rows):
        return named
    return rows


def check_gpus_list(text: str, rc: int, expected: dict[str, int], context: str | None = None) -> list[Finding]:
    """expected: accelerator name -> total count the cluster has, read in the tier's own context."""
    out = strip_ansi(text)
    if rc != 0:
        return [fail("sky.gpus-list", f"exited {rc}: {out.strip()[-300:]}")]
    every = parse_gpus_list(out)
    rows = rows_for_context(every, context)
    if not rows:
        seen = sorted({r.context for r in every if r.context})
        where = f" for context {context!r} (contexts listed: {', '.join(seen) or 'none'})" if context else ""
        return [fail("sky.gpus-list", f"no Kubernetes GPU table in the output{where}: {out.strip()[-300:]}")]
    findings = []
    for name, count in expected.items():
        match = [r for r in rows if gpu_name_matches(name, r.gpu)]
        if not match:
            findings.append(fail("sky.gpus-list", f"{name} is not listed (listed: "
                                 f"{', '.join(sorted({r.gpu for r in rows})) or 'nothing'})", name))
            continue
        total = sum(r.total or 0 for r in match)
        if total == 0:
            findings.append(fail("sky.gpus-list", f"{name} is listed with a count of 0", name))
        elif total != count:
            findings.append(fail("sky.gpus-list", f"{name}: {total} GPU(s) listed, the nodes have {count}", name))
        else:
            qty = sorted({q for r in match for q in r.per_node})
            findings.append(ok("sky.gpus-list", f"{name}: {total} GPU(s), requestable per node {qty}", name))
    return findings


def enabled_infra(text: str) -> list[str]:
    data = json_document(text)
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        # `sky check -o json`: workspace -> enabled cloud -> capabilities
        return sorted({cloud for clouds in data.values() for cloud in clouds})
    lines = strip_ansi(text).splitlines()
    for i, line in enumerate(lines):
        if re.search(r"Enabled (infra|clouds)", line):
            names: list[str] = []
            for rest in lines[i + 1:]:
                if not rest.strip():
                    if names:
                        break
                    continue
                if not rest.startswith("  "):
                    break
                m = re.match(r"^\s{2}(\w[\w ]*?)(?:\s*\[.*\])?\s*$", rest)
                if m and not rest.startswith("    "):
                    names.append(m.group(1))
            return names
    return []


_CONTEXT_LINE = re.compile(r"^[\s│├└─]*(?P<name>[^\s:│├└─][^\s:]*)(?::\s*(?P<state>enabled|disabled)"
                           r"\.?(?P<why>.*))?\s*$")


def context_states(text: str) -> dict[str, tuple[str, str]]:
    """Kubernetes context -> (enabled | disabled | listed, reason) from `sky check`'s context trees
    ("Allowed contexts:" followed by "├── name: enabled." lines, or bare names under Enabled infra)."""
    states: dict[str, tuple[str, str]] = {}
    in_tree = False
    for line in strip_ansi(text).splitlines():
        if "contexts:" in line.lower():
            in_tree = True
            continue
        if in_tree and re.match(r"^\s*[│├└]", line):
            m = _CONTEXT_LINE.match(line)
            if m:
                name, state = m.group("name"), m.group("state") or "listed"
                if state != "listed" or name not in states:
                    states[name] = (state, (m.group("why") or "").strip(" .:"))
            continue
        in_tree = False
    return states


def check_sky_check(text: str, rc: int, context: str | None = None) -> list[Finding]:
    enabled = enabled_infra(text)
    kubernetes_on = rc == 0 and any(n.lower() == "kubernetes" for n in enabled)
    tail = strip_ansi(text).strip()[-300:]
    if not kubernetes_on:
        return [fail("sky.check", f"Kubernetes is not enabled (rc {rc}; enabled: {', '.join(enabled) or 'none'}): "
                                  f"{tail}")]
    if context is None:
        return [ok("sky.check", f"Kubernetes enabled (enabled: {', '.join(enabled)})")]
    states = context_states(text)
    state, why = states.get(context, ("missing", ""))
    if state in ("enabled", "listed") and not (state == "listed" and states.get(context, ("", ""))[0] == "disabled"):
        return [ok("sky.check", f"Kubernetes enabled for context {context}", context)]
    if state == "disabled":
        return [fail("sky.check", f"context {context} is disabled{f': {why}' if why else ''}", context)]
    others = sorted(n for n, (st, _) in states.items() if st != "disabled")
    return [fail("sky.check", f"context {context} is not among the enabled contexts "
                              f"({', '.join(others) or 'none'})", context)]


def version_matches(expected: str, reported: str) -> bool:
    """Exactly as the deploy role's health check decides (one function for both)."""
    return reports_release(expected, reported)


def check_api_health(body: str | dict[str, Any], expected_version: str) -> list[Finding]:
    try:
        data = json.loads(body) if isinstance(body, str) else body
    except json.JSONDecodeError:
        return [fail("api.health", f"/api/health did not return JSON: {str(body)[:200]!r}")]
    if not isinstance(data, dict):
        return [fail("api.health", f"/api/health answered {json.dumps(data)[:200]}, not an object with a status "
                                   "and a version")]
    findings = []
    status = data.get("status")
    status = status.lower() if isinstance(status, str) else ""
    findings.append(ok("api.health", "healthy") if status == "healthy"
                    else fail("api.health", f"status is {status or 'missing'}"))
    version = data.get("version")
    version = version if isinstance(version, str) else ""
    if version and version_matches(expected_version, version):
        findings.append(ok("api.version", f"reports {version} (commit {data.get('commit', '?')})"))
    else:
        findings.append(fail("api.version", f"reports {version or 'no version'}, expected {expected_version}"))
    return findings


_RES_RE = re.compile(r"(?:gpus=)?(?P<name>[A-Za-z][\w.\-]*):(?P<count>\d+)")


def _accelerators(value: Any) -> tuple[str, int] | None:
    """`sky status -o json` writes a cluster's accelerators as a dict's repr: "{'H100': 1}"."""
    try:
        parsed = ast.literal_eval(value) if isinstance(value, str) else value
    except (ValueError, SyntaxError):
        return None
    if isinstance(parsed, dict) and parsed:
        name, count = next(iter(parsed.items()))
        if isinstance(count, int | float):
            return str(name), int(count)
    return None


def status_gpu_counts(text: str) -> dict[str, tuple[str, int] | None]:
    """cluster name -> (accelerator, count) from `sky status -o json` (or the table of
    `sky status --kubernetes` of clients without -o json), None if no GPU shown."""
    data = json_document(text)
    if isinstance(data, list) and all(isinstance(r, dict) and "name" in r for r in data):
        return {str(r["name"]): _accelerators(r.get("accelerators")) for r in data}
    lines = strip_ansi(text).splitlines()
    out: dict[str, tuple[str, int] | None] = {}
    for i, line in enumerate(lines):
        if line.split()[:2] == ["USER", "NAME"] and "RESOURCES" in line:
            table, _ = read_table(lines, i)
            for r in table:
                m = _RES_RE.search(r.get("RESOURCES", "").replace("cpus=", "").replace("mem=", ""))
                out[r.get("NAME", "")] = (m.group("name"), int(m.group("count"))) if m else None
    return out


def check_status_gpu_count(text: str, cluster: str, accelerator: str, count: int) -> list[Finding]:
    counts = status_gpu_counts(text)
    names = [n for n in counts if n == cluster or n.startswith(cluster + "-")]
    if not names:
        return [fail("sky.status-gpus", f"{cluster} is not in `sky status --kubernetes`", cluster)]
    got = counts[names[0]]
    if got is None:
        return [fail("sky.status-gpus", f"shown with no GPU, expected {accelerator}:{count}", cluster)]
    if not gpu_name_matches(accelerator, got[0]) or got[1] != count:
        return [fail("sky.status-gpus", f"shown as {got[0]}:{got[1]}, expected {accelerator}:{count}", cluster)]
    return [ok("sky.status-gpus", f"shown as {got[0]}:{got[1]}", cluster)]


# How SkyPilot refuses a request no node can hold. The optimizer names the request:
#   No resource satisfying Kubernetes({'H100': 9}) on Kubernetes.
#   sky.exceptions.ResourcesUnavailableError: Kubernetes cluster does not contain any instances
#   satisfying the request: 1x Kubernetes({'H100': 9}).
# The Kubernetes provisioner, when the scheduler refuses the pod, raises its own error naming the
# vendor's resource key ("Insufficient nvidia.com/gpu").
_REQUEST_RE = re.compile(r"(?:No resource satisfying|does not contain any instances satisfying the request:"
                         r"(?:\s*\d+x)?)\s*Kubernetes\(\{'(?P<name>[^']+)':\s*(?P<count>\d+)")
_SKY_ERRORS = ("ResourcesUnavailableError", "KubernetesError")
TIMEOUT_CODES = (124, 137)


def check_over_request(text: str, rc: int, accelerator: str, count: int, resource_key: str = "",
                       subject: str = "") -> list[Finding]:
    """Passes only on SkyPilot's own refusal of `accelerator:count`; any other failure (a missing
    context, a 403, a crash) is a failure, however it is worded."""
    out = strip_ansi(text)
    wanted = f"{accelerator}:{count}"
    if rc == 0:
        return [fail("sky.over-request", f"a launch asking for {wanted}, more than any node has, succeeded", subject)]
    if rc in TIMEOUT_CODES:
        return [fail("sky.over-request", f"hung until the timeout killed it (rc {rc})", subject)]
    for m in _REQUEST_RE.finditer(out):
        if gpu_name_matches(accelerator, m.group("name")) and int(m.group("count")) == count:
            return [ok("sky.over-request", f"SkyPilot refused {wanted}: no node can hold it", subject)]
    if resource_key and any(e in out for e in _SKY_ERRORS) and f"Insufficient {resource_key}" in out:
        return [ok("sky.over-request", f"SkyPilot refused {wanted}: the scheduler reports insufficient "
                                       f"{resource_key}", subject)]
    return [fail("sky.over-request", f"failed (rc {rc}) without SkyPilot's refusal of {wanted}: {out.strip()[-300:]}",
                 subject)]


def check_launch_output(text: str, rc: int, subject: str = "") -> list[Finding]:
    """A launch that the API server refused because of int affinity values, for instance."""
    out = strip_ansi(text)
    if "cannot unmarshal number" in out:
        return [fail("sky.launch", "pod creation refused: a node-affinity value was rendered as a number",
                     subject)]
    if rc in TIMEOUT_CODES:
        return [fail("sky.launch", f"timed out (rc {rc})", subject)]
    if rc != 0:
        return [fail("sky.launch", f"failed (rc {rc}): {out.strip()[-300:]}", subject)]
    return [ok("sky.launch", "launched and ran its command", subject)]
