"""Checks on the pods a `sky launch` creates, as `kubectl get pods -o json` returns them: the GPU
resource key, node-affinity values, the node the pod landed on, the runtime class, the count."""

from __future__ import annotations

from typing import Any

from release.smoke.findings import Finding, fail, ok
from release.smoke.nodes import items, node_labels, node_name, node_vendor
from release.smoke.vendors import VENDORS, Vendor, other, parse_quantity

CLUSTER_LABEL = "skypilot-cluster-name"
LEGACY_CLUSTER_LABEL = "skypilot-cluster"


def pod_name(pod: dict[str, Any]) -> str:
    return pod.get("metadata", {}).get("name", "")


def pods_for_cluster(pods: dict[str, Any], cluster: str) -> list[dict[str, Any]]:
    """SkyPilot names the cluster on the cloud `<name>-<user hash>`, so match the prefix too."""
    out = []
    for pod in items(pods):
        labels = pod.get("metadata", {}).get("labels", {}) or {}
        value = str(labels.get(CLUSTER_LABEL) or labels.get(LEGACY_CLUSTER_LABEL) or "")
        if value == cluster or value.startswith(cluster + "-"):
            out.append(pod)
    return out


def gpu_requests(pod: dict[str, Any]) -> dict[str, int]:
    """Resource key -> count over all containers, limits first (GPUs must be in limits)."""
    totals: dict[str, int] = {}
    for container in pod.get("spec", {}).get("containers", []) or []:
        res = container.get("resources", {}) or {}
        merged = {**(res.get("requests") or {}), **(res.get("limits") or {})}
        for key, value in merged.items():
            if key in ("nvidia.com/gpu", "amd.com/gpu"):
                totals[key] = totals.get(key, 0) + parse_quantity(value)
    return totals


def affinity_expressions(pod: dict[str, Any]) -> list[dict[str, Any]]:
    node_aff = ((pod.get("spec", {}).get("affinity") or {}).get("nodeAffinity") or {})
    required = (node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    soft = node_aff.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    preferred = [p.get("preference") or {} for p in soft]
    exprs = []
    for term in [*required, *preferred]:
        exprs += list(term.get("matchExpressions") or [])
    return exprs


def check_resource_key(pod: dict[str, Any], v: Vendor, count: int) -> list[Finding]:
    name, req = pod_name(pod), gpu_requests(pod)
    wrong = other(v).resource_key
    if wrong in req:
        return [fail("pod.resource-key", f"requests {wrong}={req[wrong]} for a {v.name.upper()} GPU "
                     f"(expected {v.resource_key})", name)]
    if v.resource_key not in req:
        return [fail("pod.resource-key", f"requests no {v.resource_key} (GPU requests: {req or 'none'})", name)]
    got = req[v.resource_key]
    if got != count:
        return [fail("pod.gpu-count", f"requests {v.resource_key}={got}, expected {count}", name)]
    return [ok("pod.resource-key", f"requests {v.resource_key}={got}", name)]


def check_affinity_values(pod: dict[str, Any]) -> list[Finding]:
    """Every matchExpressions value and nodeSelector value must be a string: an int here is what
    the API server refuses with 'cannot unmarshal number ... of type string'."""
    name = pod_name(pod)
    bad = [f"{e.get('key')}={val!r}" for e in affinity_expressions(pod) for val in (e.get("values") or [])
           if not isinstance(val, str)]
    bad += [f"{k}={val!r}" for k, val in (pod.get("spec", {}).get("nodeSelector") or {}).items()
            if not isinstance(val, str)]
    if bad:
        return [fail("pod.affinity-strings", f"non-string node-affinity values: {', '.join(bad)}", name)]
    n = sum(len(e.get("values") or []) for e in affinity_expressions(pod))
    return [ok("pod.affinity-strings", f"{n} node-affinity value(s), all strings", name)]


def check_affinity_targets(pod: dict[str, Any], v: Vendor) -> list[Finding]:
    """A GPU pod must be pinned to its vendor's product label, never to the other vendor's."""
    name, keys = pod_name(pod), {e.get("key") for e in affinity_expressions(pod)}
    if other(v).product_label in keys:
        return [fail("pod.affinity-vendor", f"node affinity selects {other(v).product_label} for a "
                     f"{v.name.upper()} request", name)]
    sel = set((pod.get("spec", {}).get("nodeSelector") or {}).keys())
    if v.product_label not in keys | sel:
        return [fail("pod.affinity-vendor", f"no node affinity on {v.product_label}", name)]
    return [ok("pod.affinity-vendor", f"pinned by {v.product_label}", name)]


def check_placement(pod: dict[str, Any], v: Vendor, nodes: dict[str, Any], expected_node: str | None) -> list[Finding]:
    name, on = pod_name(pod), pod.get("spec", {}).get("nodeName")
    if not on:
        phase = pod.get("status", {}).get("phase", "unknown")
        conds = [c.get("message", "") for c in pod.get("status", {}).get("conditions", []) or []
                 if c.get("type") == "PodScheduled" and c.get("status") != "True"]
        why = f": {conds[0]}" if conds and conds[0] else ""
        return [fail("pod.placement", f"not scheduled (phase {phase}){why}", name)]
    if expected_node and on != expected_node:
        return [fail("pod.placement", f"landed on {on}, expected {expected_node}", name)]
    node = next((n for n in items(nodes) if node_name(n) == on), None)
    if node is None:
        return [fail("pod.placement", f"landed on {on}, which is not in the node list", name)]
    nv = node_vendor(node)
    if nv != v.name:
        return [fail("pod.placement", f"landed on {on}, a {nv or 'CPU'} node, not a {v.name.upper()} node", name)]
    return [ok("pod.placement", f"on {on} ({v.product_label}={node_labels(node)[v.product_label]})", name)]


def check_runtime_class(pod: dict[str, Any], v: Vendor) -> list[Finding]:
    name, rc = pod_name(pod), pod.get("spec", {}).get("runtimeClassName")
    if v.name == "amd" and rc and "nvidia" in str(rc).lower():
        return [fail("pod.runtime-class", f"AMD pod carries runtimeClassName={rc}", name)]
    return [ok("pod.runtime-class", f"runtimeClassName={rc or 'unset'}", name)]


# Waiting reasons that mean the container will not start without someone fixing something.
_STUCK_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
                  "CreateContainerError", "InvalidImageName", "RunContainerError")


def check_running(pod: dict[str, Any]) -> list[Finding]:
    """The pod runs: phase Running (or Succeeded), and no container waiting on an error or ended
    with a non-zero exit code. A pod bound to the right node but Failed proves nothing."""
    name, status = pod_name(pod), pod.get("status") or {}
    phase = status.get("phase") or "unknown"
    problems = []
    for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        state = c.get("state") or {}
        waiting, done = state.get("waiting") or {}, state.get("terminated") or {}
        if waiting.get("reason") in _STUCK_REASONS:
            detail = f" ({waiting['message']})" if waiting.get("message") else ""
            problems.append(f"container {c.get('name')} is waiting: {waiting.get('reason')}{detail}")
        elif done and done.get("exitCode") not in (0, None):
            problems.append(f"container {c.get('name')} exited {done.get('exitCode')} ({done.get('reason', '?')})")
    if phase not in ("Running", "Succeeded"):
        why = status.get("reason") or status.get("message") or ""
        problems.insert(0, f"phase is {phase}{f' ({why})' if why else ''}")
    if problems:
        return [fail("pod.running", "; ".join(problems), name)]
    ready = sum(1 for c in status.get("containerStatuses") or [] if c.get("ready"))
    return [ok("pod.running", f"phase {phase}, {ready} container(s) ready", name)]


def check_launch_pods(pods: dict[str, Any], nodes: dict[str, Any], *, cluster: str, vendor: str,
                      count: int, expected_node: str | None = None) -> list[Finding]:
    v = VENDORS[vendor]
    mine = pods_for_cluster(pods, cluster)
    if not mine:
        return [fail("pod.created", f"no pod labelled {CLUSTER_LABEL}={cluster}[-*]", cluster)]
    findings = [ok("pod.created", f"{len(mine)} pod(s): {', '.join(pod_name(p) for p in mine)}", cluster)]
    for pod in mine:
        findings += check_resource_key(pod, v, count)
        findings += check_affinity_values(pod)
        findings += check_affinity_targets(pod, v)
        findings += check_placement(pod, v, nodes, expected_node)
        findings += check_running(pod)
        findings += check_runtime_class(pod, v)
    return findings
