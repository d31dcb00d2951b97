"""`ellm-release smoke ...`: the commands the smoke playbooks call (also `python -m release.smoke`).

Each `check` reads what a playbook captured (kubectl JSON, sky output, GPU tool output), prints one
line per finding, saves them with --save, and exits 1 when any check fails (2 on unusable input)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from release.cli.examples import examples
from release.cli.output import options_of
from release.errors import CheckFailed, Refused
from release.records import is_digest, state_dir
from release.smoke import compute, gpu_tools, host, nodes, pods, report, runs, sky_output, smi_pods
from release.smoke.findings import Finding, all_passed, fail, render, save
from release.smoke.vendors import VENDORS


class InputUnreadable(Refused):
    """A captured file that is missing or not what the check reads: a failing finding, saved."""


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise InputUnreadable(f"input file not found: {path}") from None
    except OSError as exc:
        raise InputUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_json(path: str) -> Any:
    try:
        return json.loads(_read(path))
    except json.JSONDecodeError as exc:
        raise InputUnreadable(f"{path} is not JSON: {exc}") from None


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise Refused(f"{what} must look like KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _judge(ctx: click.Context, compute: Callable[[], list[Finding]]) -> list[Finding]:
    """Run a check; input it cannot read becomes one failing finding, never a traceback, so the
    playbook still saves evidence and the run is judged a failure."""
    name = ctx.info_name or "check"
    try:
        return compute()
    except InputUnreadable as exc:
        return [fail(f"{name}.input", exc.message)]
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        return [fail(f"{name}.input", f"the {name} check cannot read its input ({type(exc).__name__}: "
                                      f"{str(exc)[:200]})")]


def _finish(ctx: click.Context, compute: Callable[[], list[Finding]], save_to: Path | None) -> None:
    opts = options_of(ctx)
    findings = _judge(ctx, compute)
    if save_to:
        save(save_to, findings, run_id=ctx.meta.get("smoke_run_id", ""), digest=ctx.meta.get("smoke_digest", ""))
    opts.say(render(findings))
    opts.emit({"passed": all_passed(findings), "findings": [f.to_dict() for f in findings]})
    if not all_passed(findings):
        raise CheckFailed(f"{sum(not f.passed for f in findings)} smoke check(s) failed")


def _keep(key: str) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            ctx.meta[key] = value
    return callback


def save_option(command: Any) -> Any:
    """--save, and the run id and digest the saved file is stamped with (the record step counts
    only this run's files for this digest)."""
    command = click.option("--digest", expose_value=False, callback=_keep("smoke_digest"),
                           help="With --save: the image digest this run checks.")(command)
    command = click.option("--run-id", expose_value=False, callback=_keep("smoke_run_id"),
                           help="With --save: the run id `smoke run-start` printed.")(command)
    return click.option("--save", "save_to", type=click.Path(path_type=Path),
                        help="Also write the findings as JSON here (one file per check group, named after "
                             "the group).")(command)


@examples("ellm-release smoke check smi --vendor nvidia --format nvidia-csv --output smi.csv --expected-count 8")
@click.group("smoke")
def smoke() -> None:
    """GPU smoke tests: prepare the fake-GPU kind cluster, check what a run captured, record it."""


# ---- preparation -------------------------------------------------------------------------------


def _print(text: str, as_json: dict[str, Any]) -> None:
    """What these commands print on stdout. Under --json it becomes the command's part of the one
    JSON document instead, so that stdout still holds exactly one document."""
    opts = options_of(click.get_current_context())
    if opts.json:
        opts.emit(as_json)
    else:
        click.echo(text, nl=not text.endswith("\n"))


def _print_json(data: Any, indent: int | None = 2) -> None:
    _print(json.dumps(data, indent=indent), data if isinstance(data, dict) else {"result": data})


@examples("ellm-release smoke kind-config --cluster ellm-smoke --out kind.yaml")
@smoke.command("kind-config")
@click.option("--cluster", default="ellm-smoke", show_default=True)
@click.option("--api-port", type=int, help="Fix the API server port (default: kind picks one).")
@click.option("--out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
def kind_config(cluster: str, api_port: int | None, out: Path | None) -> None:
    """The kind cluster: one control plane, worker A (NVIDIA) and worker B (AMD)."""
    text = nodes.render_kind_config(cluster, api_port)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    else:
        _print(text, {"kind_config": text})


@examples("ellm-release smoke fake-gpus --nvidia-smi-csv h100-query.csv --nvidia-count 2 --amd-count 2")
@smoke.command("fake-gpus")
@click.option("--cluster", default="ellm-smoke", show_default=True)
@click.option("--nvidia-smi-csv", required=True, help="nvidia-smi --query-gpu ... --format=csv output to "
              "derive the GFD labels from.")
@click.option("--cuda-version", default="", help="CUDA version for the cuda.runtime labels (nvidia-smi header).")
@click.option("--nvidia-count", type=int, default=2, show_default=True)
@click.option("--amd-count", type=int, default=2, show_default=True)
def fake_gpus(cluster: str, nvidia_smi_csv: str, cuda_version: str, nvidia_count: int, amd_count: int) -> None:
    """Per worker: the labels to set and the status patch that adds the GPU resource (JSON)."""
    inv = gpu_tools.parse_nvidia_query_csv(_read(nvidia_smi_csv))
    try:
        plan = nodes.fake_gpu_plan(cluster, inv, nvidia_count=nvidia_count, amd_count=amd_count,
                                   cuda_version=cuda_version)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    _print_json([p.to_dict() for p in plan])


@examples("ellm-release smoke smi-pod --vendor amd --name rocm-smi-check | kubectl apply -f -")
@smoke.command("smi-pod")
@click.option("--vendor", type=click.Choice(["nvidia", "amd"]), required=True)
@click.option("--name", required=True)
@click.option("--namespace", default="default", show_default=True)
@click.option("--image", default=None, help="Image with the vendor tool (default per vendor).")
@click.option("--runtime-class", default=None, help="NVIDIA only: runtimeClassName, e.g. nvidia.")
def smi_pod(vendor: str, name: str, namespace: str, image: str | None, runtime_class: str | None) -> None:
    """The manifest of a one-GPU pod that runs nvidia-smi or rocm-smi (real tier)."""
    manifest = smi_pods.smi_pod(vendor, name, namespace, image or None, runtime_class or None)
    _print_json({"manifest": manifest, "format": smi_pods.OUTPUT_FORMATS[vendor]})


@examples("kubectl get nodes -o json > nodes.json && ellm-release smoke gpu-nodes --nodes nodes.json")
@smoke.command("gpu-nodes")
@click.option("--nodes", "nodes_file", required=True, help="kubectl get nodes -o json")
def gpu_nodes_cmd(nodes_file: str) -> None:
    """vendor -> {node: allocatable GPUs} for the nodes a GPU labeller marked (JSON)."""
    by_vendor = nodes.gpu_nodes(_read_json(nodes_file))
    _print_json({"nodes": by_vendor,
                 "max_per_node": {v: max(c.values(), default=0) for v, c in by_vendor.items()}}, indent=None)


# ---- checks ------------------------------------------------------------------------------------


@examples("ellm-release smoke check nodes --nodes nodes.json --expect nvidia=any --expect amd=any")
@smoke.group("check")
def check() -> None:
    """Check captured output; exit 1 if any check fails."""


@examples("ellm-release smoke check nodes --nodes nodes.json --expect nvidia=ellm-smoke-worker")
@check.command("nodes")
@click.option("--nodes", "nodes_file", required=True, help="kubectl get nodes -o json")
@click.option("--expect", multiple=True, required=True, help="VENDOR=NODE, or VENDOR=any.")
@save_option
@click.pass_context
def check_nodes(ctx: click.Context, nodes_file: str, expect: tuple[str, ...], save_to: Path | None) -> None:
    """Check that each expected vendor has GPU nodes (and the named node, if given) in `kubectl get nodes -o json`."""
    wanted = {k: (None if v in ("", "any") else v) for k, v in _pairs(expect, "--expect").items()}
    _finish(ctx, lambda: nodes.check_gpu_nodes(_read_json(nodes_file), wanted), save_to)


@examples("ellm-release smoke check api --health health.json --version 0.13.0")
@check.command("api")
@click.option("--health", required=True, help="The body of GET /api/health.")
@click.option("--version", "expected_version", required=True)
@save_option
@click.pass_context
def check_api(ctx: click.Context, health: str, expected_version: str, save_to: Path | None) -> None:
    """Check the API server's /api/health answer: healthy, and exactly the expected version."""
    _finish(ctx, lambda: sky_output.check_api_health(_read(health), expected_version), save_to)


@examples("ellm-release smoke check sky-check --output sky-check.txt --rc 0 --context in-cluster")
@check.command("sky-check")
@click.option("--output", required=True)
@click.option("--rc", type=int, required=True)
@click.option("--context", default=None, help="The tier's Kubernetes context, which must be enabled "
              "(in-cluster for an API server inside the cluster).")
@save_option
@click.pass_context
def check_sky_check(ctx: click.Context, output: str, rc: int, context: str | None, save_to: Path | None) -> None:
    """Check `sky check` output: Kubernetes enabled, for the tier's own context when --context is given."""
    _finish(ctx, lambda: sky_output.check_sky_check(_read(output), rc, context or None), save_to)


@examples("ellm-release smoke check gpus-list --output gpus.txt --rc 0 --nodes nodes.json --accelerator "
          "nvidia=H100 --accelerator amd=MI300X --context in-cluster")
@check.command("gpus-list")
@click.option("--output", required=True, help="sky gpus list / sky show-gpus output.")
@click.option("--rc", type=int, required=True)
@click.option("--nodes", "nodes_file", required=True, help="kubectl get nodes -o json: the expected counts.")
@click.option("--accelerator", multiple=True, required=True, help="VENDOR=NAME as SkyPilot lists it.")
@click.option("--context", default=None, help="Read only this Kubernetes context's table.")
@save_option
@click.pass_context
def check_gpus_list(ctx: click.Context, output: str, rc: int, nodes_file: str, accelerator: tuple[str, ...],
                    context: str | None, save_to: Path | None) -> None:
    """Check `sky gpus list` output: each accelerator listed with as many GPUs as the nodes have."""
    names = _pairs(accelerator, "--accelerator")

    def compute() -> list[Finding]:
        by_vendor = nodes.gpu_nodes(_read_json(nodes_file))
        expected = {name: sum(by_vendor.get(vendor, {}).values()) for vendor, name in names.items()}
        return sky_output.check_gpus_list(_read(output), rc, expected, context)

    _finish(ctx, compute, save_to)


@examples("ellm-release smoke check launch --pods pods.json --nodes nodes.json --cluster smoke-nv --vendor "
          "nvidia --node ellm-smoke-worker")
@check.command("launch")
@click.option("--pods", "pods_file", required=True, help="kubectl get pods -o json")
@click.option("--nodes", "nodes_file", required=True, help="kubectl get nodes -o json")
@click.option("--cluster", required=True, help="The SkyPilot cluster name given to sky launch.")
@click.option("--vendor", type=click.Choice(["nvidia", "amd"]), required=True)
@click.option("--count", type=int, default=1, show_default=True)
@click.option("--node", default=None, help="The node the pod must land on (kind tier).")
@click.option("--launch-output", default=None)
@click.option("--launch-rc", type=int, default=None)
@click.option("--status", "status_file", default=None, help="sky status --kubernetes output.")
@click.option("--accelerator", default=None, help="The accelerator name requested.")
@save_option
@click.pass_context
def check_launch(ctx: click.Context, pods_file: str, nodes_file: str, cluster: str, vendor: str, count: int,
                 node: str | None, launch_output: str | None, launch_rc: int | None, status_file: str | None,
                 accelerator: str | None, save_to: Path | None) -> None:
    """Check a `sky launch`: its pods run on a node of the right vendor, with the GPUs asked for."""
    def compute() -> list[Finding]:
        findings: list[Finding] = []
        if launch_output is not None and launch_rc is not None:
            findings += sky_output.check_launch_output(_read(launch_output), launch_rc, cluster)
        findings += pods.check_launch_pods(_read_json(pods_file), _read_json(nodes_file), cluster=cluster,
                                           vendor=vendor, count=count, expected_node=node or None)
        if status_file and accelerator:
            findings += sky_output.check_status_gpu_count(_read(status_file), cluster, accelerator, count)
        return findings

    _finish(ctx, compute, save_to)


@examples("ellm-release smoke check over-request --output launch.txt --rc 1 --accelerator H100 --count 9 "
          "--vendor nvidia")
@check.command("over-request")
@click.option("--output", required=True)
@click.option("--rc", type=int, required=True)
@click.option("--accelerator", required=True, help="The accelerator the launch asked for, as SkyPilot names it.")
@click.option("--count", type=int, required=True, help="How many it asked for (more than any node has).")
@click.option("--vendor", type=click.Choice(["nvidia", "amd"]), default=None,
              help="The accelerator's vendor: the scheduler's 'Insufficient <resource key>' counts too.")
@save_option
@click.pass_context
def check_over_request(ctx: click.Context, output: str, rc: int, accelerator: str, count: int, vendor: str | None,
                       save_to: Path | None) -> None:
    """Check that asking for more GPUs than any node has is refused by SkyPilot as insufficient."""
    key = VENDORS[vendor].resource_key if vendor else ""
    _finish(ctx, lambda: sky_output.check_over_request(_read(output), rc, accelerator, count, key), save_to)


@examples("ellm-release smoke check smi --vendor nvidia --format nvidia-csv --output smi.csv --expected-count 8")
@check.command("smi")
@click.option("--vendor", type=click.Choice(["nvidia", "amd"]), required=True)
@click.option("--format", "fmt", type=click.Choice(sorted(gpu_tools.PARSERS)), required=True)
@click.option("--output", required=True, help="What the tool printed.")
@click.option("--rc", type=int, default=0, show_default=True)
@click.option("--expected-count", type=int, default=None)
@click.option("--expected-name", default=None)
@click.option("--subject", default="")
@save_option
@click.pass_context
def check_smi(ctx: click.Context, vendor: str, fmt: str, output: str, rc: int, expected_count: int | None,
              expected_name: str | None, subject: str, save_to: Path | None) -> None:
    """Check nvidia-smi / rocm-smi / amd-smi output: GPU count, names, and no GPU in an error state."""
    def compute() -> list[Finding]:
        text = _read(output)
        if rc != 0:
            return [fail("gpu.tool", gpu_tools.diagnose_tool_failure(vendor, rc, text), subject)]
        try:
            inv = gpu_tools.PARSERS[fmt](text)
        except gpu_tools.ToolOutputError as exc:
            return [fail("gpu.tool", str(exc), subject)]
        return gpu_tools.check_inventory(inv, expected_count=expected_count, expected_name=expected_name,
                                         subject=subject)

    _finish(ctx, compute, save_to)


@examples("ellm-release smoke check host --probe probe.txt --hostname gpu-node-1")
@check.command("host")
@click.option("--probe", required=True, help="What the node-check probe printed (--- pci/nodes/tools sections).")
@click.option("--hostname", default="")
@click.option("--vendors-out", type=click.Path(path_type=Path), help="Write the vendors to probe next (JSON).")
@save_option
@click.pass_context
def check_host(ctx: click.Context, probe: str, hostname: str, vendors_out: Path | None, save_to: Path | None) -> None:
    """Check what the node-check probe found on a GPU host: devices, driver nodes and tools per vendor."""
    findings, vendors = host.check_host(host.parse_probe(_read(probe), hostname))
    if vendors_out:
        vendors_out.parent.mkdir(parents=True, exist_ok=True)
        vendors_out.write_text(json.dumps(list(vendors)), encoding="utf-8")
    _finish(ctx, lambda: findings, save_to)


@examples("ellm-release smoke check vector-add --result vector-add.json --subject gpu-node-1")
@check.command("vector-add")
@click.option("--result", required=True, help="What vector_add.py printed.")
@click.option("--subject", default="")
@save_option
@click.pass_context
def check_vector_add(ctx: click.Context, result: str, subject: str, save_to: Path | None) -> None:
    """Check a GPU vector add's result: computed on a GPU, and correct."""
    _finish(ctx, lambda: compute.check_vector_add(_read(result), subject), save_to)


# ---- record ------------------------------------------------------------------------------------


@examples("ellm-release smoke run-start --artifacts .ellm/smoke-artifacts/kind-localhost --tier kind")
@smoke.command("run-start")
@click.option("--artifacts", type=click.Path(path_type=Path), required=True,
              help="The artifacts folder of this tier and host; the run gets its own folder inside.")
@click.option("--tier", required=True, help="kind | real-nvidia | real-amd | real-mixed")
@click.option("--host", default="", help="The inventory host the run is for.")
@click.pass_context
def run_start(ctx: click.Context, artifacts: Path, tier: str, host: str) -> None:
    """Start a run: a new run id and an empty `<artifacts>/<run id>/findings` folder (JSON on stdout).

    Earlier runs' folders stay for reading; the record step judges only this run's folder."""
    try:
        run, folder = runs.start_run(artifacts, tier=tier, host=host)
    except OSError as exc:
        raise Refused(f"cannot make the run folder in {artifacts}: {exc.strerror or exc}") from None
    _print_json({"run_id": run.run_id, "dir": str(folder), "findings": str(folder / "findings")}, indent=None)


@examples("ellm-release smoke record --run-dir .ellm/smoke-artifacts/kind-localhost/RUN_ID --digest "
          "sha256:... --image ghcr.io/embeddedllm/skypilot:v0.13.0-dev --version 0.13.0 --tier kind "
          "--expect nodes,api")
@smoke.command("record")
@click.option("--run-dir", type=click.Path(path_type=Path), default=None,
              help="The folder `smoke run-start` made; without it the run is recorded as one that never started.")
@click.option("--digest", required=True, help="The candidate image digest (sha256:...).")
@click.option("--image", required=True, help="The image reference that was tested.")
@click.option("--version", "version", required=True)
@click.option("--tier", required=True, help="kind | real-nvidia | real-amd | real-mixed")
@click.option("--expect", default="", help="Comma-separated check groups that must have run.")
@click.option("--stopped", default="", help="Why the run stopped early (the failed step); recorded as a failure.")
@click.option("--state-dir", "state", type=click.Path(path_type=Path), default=None,
              help="Where promote will look (default: $ELLM_STATE_DIR, else .ellm/ beside the manifest's "
                   "patches/ folder). The smoke playbooks pass the state dir the deploy role used.")
@click.pass_context
def record(ctx: click.Context, run_dir: Path | None, digest: str, image: str, version: str, tier: str,
           expect: str, stopped: str, state: Path | None) -> None:
    """Write the smoke record promote reads; a failing or unfinished run is recorded too, never as a pass.

    Only findings files of this run (its id, this digest, every expected group) count."""
    opts = options_of(ctx)
    if not is_digest(digest):
        raise Refused(f"--digest must be sha256: and 64 hex digits, got {digest!r}")
    expected = tuple(x.strip() for x in expect.split(",") if x.strip())
    v, path = report.record_run(state or state_dir(opts.manifest), run_dir, digest=digest, image=image,
                                version=version, tier=tier, expected=expected, stopped=stopped.strip())
    opts.say(f"{'PASSED' if v.passed else 'FAILED'} ({tier}): {v.summary}")
    opts.say(f"smoke record: {path}")
    opts.emit({"passed": v.passed, "summary": v.summary, "record": str(path), "groups": list(v.groups)})
    if not v.passed:
        raise CheckFailed(f"smoke tests failed for {digest}")
