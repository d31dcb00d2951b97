"""Node and pod objects shaped exactly as the API server returns them: built with the `kubernetes`
client's models and serialised by its ApiClient (camelCase keys, no nulls, quantities as strings)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

_API = client.ApiClient()


def to_api(obj: Any) -> dict[str, Any]:
    return _API.sanitize_for_serialization(obj)


def node(name: str, labels: dict[str, str] | None = None, gpus: dict[str, str] | None = None) -> dict[str, Any]:
    resources = {"cpu": "8", "memory": "32Gi", "pods": "110", **(gpus or {})}
    return to_api(
        client.V1Node(
            api_version="v1",
            kind="Node",
            metadata=client.V1ObjectMeta(name=name, labels={"kubernetes.io/hostname": name, **(labels or {})}),
            status=client.V1NodeStatus(capacity=dict(resources), allocatable=dict(resources)),
        )
    )


def node_list(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": list(nodes), "metadata": {"resourceVersion": ""}}


def sky_pod(
    cluster: str,
    *,
    node_name: str | None,
    limits: dict[str, str],
    affinity_key: str | None = None,
    affinity_values: list[Any] | None = None,
    runtime_class: str | None = None,
    phase: str | None = None,
    container_state: Any = None,
) -> dict[str, Any]:
    """A SkyPilot head pod as the API returns it; running and ready once bound to a node, unless
    `phase` / `container_state` (a V1ContainerState) say otherwise."""
    phase = phase or ("Running" if node_name else "Pending")
    state = container_state or (client.V1ContainerState(running=client.V1ContainerStateRunning())
                                if phase == "Running" else None)
    statuses = [client.V1ContainerStatus(name="ray-node", image="skypilot:test", image_id="", ready=phase == "Running"
                                         and container_state is None, restart_count=0, state=state)] if state else None
    terms = None
    if affinity_key:
        terms = client.V1NodeAffinity(
            required_during_scheduling_ignored_during_execution=client.V1NodeSelector(
                node_selector_terms=[
                    client.V1NodeSelectorTerm(
                        match_expressions=[
                            client.V1NodeSelectorRequirement(key=affinity_key, operator="In", values=["placeholder"])
                        ]
                    )
                ]
            )
        )
    pod = to_api(
        client.V1Pod(
            api_version="v1",
            kind="Pod",
            metadata=client.V1ObjectMeta(
                name=f"{cluster}-2ea4-head",
                namespace="default",
                labels={"parent": "skypilot", "skypilot-cluster-name": f"{cluster}-2ea4", "ray-node-type": "head"},
            ),
            spec=client.V1PodSpec(
                node_name=node_name,
                runtime_class_name=runtime_class,
                affinity=client.V1Affinity(node_affinity=terms) if terms else None,
                containers=[
                    client.V1Container(
                        name="ray-node",
                        image="skypilot:test",
                        resources=client.V1ResourceRequirements(limits=limits, requests=limits),
                    )
                ],
            ),
            status=client.V1PodStatus(phase=phase, container_statuses=statuses),
        )
    )
    if affinity_key:
        # Put the values in after serialisation, so a test can plant an int the way a buggy template
        # would render it (the client model would coerce nothing, the API server would refuse it).
        expr = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ][0]["matchExpressions"][0]
        expr["values"] = list(affinity_values or [])
    return pod


def pod_list(*pods: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": list(pods), "metadata": {"resourceVersion": ""}}
