"""Readers for the vendor GPU tools and the checks on what they report.

Formats, and where each comes from:
- `nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total,pci.bus_id,compute_cap
  --format=csv`: a header row naming each field (units in brackets), then one row per GPU; values
  carry units ("81559 MiB"). Checked against real H100 output (tests/smoke/fixtures/nvidia-h100/).
- `nvidia-smi -q -x`: the XML log (`nvidia_smi_log`, one `<gpu>` per device, `<driver_version>`,
  `<fb_memory_usage><total>`). Same real H100 source.
- `nvidia-smi -L`: "GPU <i>: <name> (UUID: <uuid>)" per line.
- `rocm-smi --showproductname --showmeminfo vram --showdriverversion --json`: an object keyed by
  "card<N>" with fields such as "Card Series" (older releases spell it "Card series"),
  "VRAM Total Memory (B)", plus a "system" object holding "Driver version" (rocm_smi.py in
  ROCm/rocm_smi_lib, python_smi_tools).
- `amd-smi static --asic --vram --driver --json`: per GPU `asic.market_name`,
  `vram.size {value, unit}`, `driver.version`; ROCm 6.0-6.3 print a bare list, later releases wrap
  it in {"gpu_data": [...]} (AMD SMI CLI documentation, rocm.docs.amd.com/projects/amdsmi).
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from release.smoke.findings import Finding, fail, ok

NVIDIA_QUERY_FIELDS = "index,name,uuid,driver_version,memory.total,pci.bus_id,compute_cap"
ROCM_SMI_ARGS = "--showproductname --showmeminfo vram --showdriverversion --json"

# Messages the tools print when the hardware or the driver is not there (seen in the field; the
# exact wording has been stable for years).
_NVIDIA_NO_DRIVER = ("couldn't communicate with the nvidia driver", "driver/library version mismatch",
                     "nvml: driver not loaded", "failed to initialize nvml")
_NVIDIA_NO_DEVICE = ("no devices were found",)
_AMD_NO_DRIVER = ("amdgpu driver not loaded", "driver not initialized", "amdgpu kernel module",
                  "rsmi_init", "unable to detect any gpus")


class ToolOutputError(ValueError):
    """The output could not be read as the format it claims to be."""


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_mib: int | None = None
    uuid: str = ""
    bus_id: str = ""
    problems: tuple[str, ...] = ()  # error states the tool reported for this GPU, one phrase each


@dataclass(frozen=True)
class GpuInventory:
    vendor: str  # nvidia | amd
    source: str  # which tool and format
    driver: str = ""
    gpus: tuple[GpuInfo, ...] = ()
    stray_lines: tuple[str, ...] = ()  # lines that are neither GPU rows nor headers (stderr mixed in)

    @property
    def count(self) -> int:
        return len(self.gpus)

    def summary(self) -> str:
        names = sorted({g.name for g in self.gpus})
        mem = sorted({g.memory_mib for g in self.gpus if g.memory_mib})
        mem_s = "/".join(f"{m} MiB" for m in mem) or "unknown memory"
        return (f"{self.count}x {', '.join(names) or 'no GPU'} ({mem_s}), "
                f"driver {self.driver or 'unknown'}, from {self.source}")


# How nvidia-smi marks a value it could not read: the device is in an error state, lost, or needs a
# reset (nvidia-smi's documentation; seen as "ERR!" in the table view and the CSV alike).
_ERROR_MARKERS = ("err!", "[unknown error]", "unknown error", "[gpu requires reset]", "gpu requires reset",
                  "[gpu is lost]", "gpu is lost", "[not found]")
# Where a value is required, these mean "not available", which for these fields is just as broken.
_MISSING_MARKERS = ("[n/a]", "n/a", "[not supported]", "[insufficient permissions]", "[unknown]")


def value_problem(field: str, value: str | None, *, required: bool = True) -> str | None:
    """The phrase for a field that holds an error marker (or nothing, where a value is required)."""
    text = (value or "").strip()
    low = text.lower()
    if any(m in low for m in _ERROR_MARKERS):
        return f"{field} is {text}"
    if required and (not text or low in _MISSING_MARKERS):
        return f"{field} is {text or 'empty'}"
    return None


def _problems(values: Mapping[str, str | None], optional: tuple[str, ...] = ()) -> tuple[str, ...]:
    found = (value_problem(k, v, required=k not in optional) for k, v in values.items())
    return tuple(p for p in found if p)


def _index(text: str | None, fallback: int) -> int:
    """A GPU's index, or its position when the tool printed none or an error in its place."""
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return fallback


def _mib(text: str) -> int | None:
    """'81559 MiB' / '81559' / '[N/A]' -> MiB."""
    m = re.search(r"(\d+(?:\.\d+)?)\s*(MiB|GiB|MB|GB|B)?", text or "")
    if not m:
        return None
    value, unit = float(m.group(1)), (m.group(2) or "MiB")
    factor = {"MiB": 1, "MB": 1, "GiB": 1024, "GB": 1024, "B": 1 / (1024 * 1024)}[unit]
    return round(value * factor)


# ---- NVIDIA ------------------------------------------------------------------------------------


def parse_nvidia_query_csv(text: str) -> GpuInventory:
    rows = [r for r in csv.reader(io.StringIO(text.strip()), skipinitialspace=True) if r]
    if not rows:
        return GpuInventory("nvidia", "nvidia-smi --query-gpu")
    header = [re.sub(r"\s*\[.*\]$", "", h.strip()) for h in rows[0]]
    if "name" not in header:
        raise ToolOutputError("nvidia-smi CSV has no header row with a 'name' column "
                              "(run it with --format=csv, not noheader)")
    gpus: list[GpuInfo] = []
    drivers: set[str] = set()
    stray: list[str] = []
    for row in rows[1:]:
        if len(row) != len(header):  # a warning or an error line printed between or after the rows
            stray.append(", ".join(row).strip())
            continue
        rec = dict(zip(header, (c.strip() for c in row), strict=True))
        position = len(gpus)
        optional = tuple(k for k in rec if k not in ("index", "name", "uuid", "driver_version", "memory.total"))
        gpus.append(GpuInfo(index=_index(rec.get("index"), position), name=rec["name"],
                            memory_mib=_mib(rec.get("memory.total", "")), uuid=rec.get("uuid", ""),
                            bus_id=rec.get("pci.bus_id", ""), problems=_problems(rec, optional)))
        if rec.get("driver_version") and not value_problem("driver_version", rec["driver_version"]):
            drivers.add(rec["driver_version"])
    return GpuInventory("nvidia", "nvidia-smi --query-gpu", ", ".join(sorted(drivers)), tuple(gpus),
                        tuple(stray))


def parse_nvidia_smi_xml(text: str) -> GpuInventory:
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise ToolOutputError(f"nvidia-smi -q -x output is not XML: {exc}") from exc
    if root.tag != "nvidia_smi_log":
        raise ToolOutputError(f"expected <nvidia_smi_log>, got <{root.tag}>")
    gpus = []
    for i, gpu in enumerate(root.findall("gpu")):
        values = {"product_name": gpu.findtext("product_name"), "uuid": gpu.findtext("uuid"),
                  "fb_memory_usage/total": gpu.findtext("fb_memory_usage/total")}
        problems = list(_problems(values))
        # the driver's own verdict on a GPU that needs attention (None when healthy; since R550)
        recovery = (gpu.findtext("gpu_recovery_action") or "None").strip()
        if recovery.lower() not in ("none", "n/a", ""):
            problems.append(f"gpu_recovery_action is {recovery}")
        gpus.append(GpuInfo(index=_index(gpu.findtext("minor_number"), i),
                            name=(values["product_name"] or "").strip(),
                            memory_mib=_mib(values["fb_memory_usage/total"] or ""),
                            uuid=(values["uuid"] or "").strip(), bus_id=gpu.get("id", ""), problems=tuple(problems)))
    driver = (root.findtext("driver_version") or "").strip()
    if value_problem("driver_version", driver):
        driver = ""
    return GpuInventory("nvidia", "nvidia-smi -q -x", driver, tuple(gpus))


_LIST_RE = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)]+)\)")
# nvidia-smi -L for a GPU it cannot open: "Unable to determine the device handle for GPU<n>: <bus>: <error>"
_LIST_BROKEN_RE = re.compile(r"^Unable to determine the device handle for (?:GPU\s*)?(\S+?):?\s+(.*)$", re.I)


def parse_nvidia_smi_list(text: str) -> GpuInventory:
    gpus, stray = [], []
    for line in (raw.strip() for raw in text.splitlines()):
        ok_match, broken = _LIST_RE.match(line), _LIST_BROKEN_RE.match(line)
        if ok_match:
            name, uuid = ok_match.group(2).strip(), ok_match.group(3)
            gpus.append(GpuInfo(int(ok_match.group(1)), name, uuid=uuid,
                                problems=_problems({"name": name, "uuid": uuid})))
        elif broken:
            gpus.append(GpuInfo(len(gpus), "unknown", bus_id=broken.group(1),
                                problems=(f"the device cannot be opened ({broken.group(2).strip()})",)))
        elif line:
            stray.append(line)
    return GpuInventory("nvidia", "nvidia-smi -L", "", tuple(gpus), tuple(stray))


# ---- AMD ---------------------------------------------------------------------------------------


def _get_ci(data: dict[str, Any], *keys: str) -> Any:
    """Case-insensitive lookup: rocm-smi changed the capitalisation of its keys between releases."""
    lowered = {k.lower(): v for k, v in data.items()}
    for key in keys:
        if key.lower() in lowered and lowered[key.lower()] not in (None, "", "N/A"):
            return lowered[key.lower()]
    return None


def _load_json(text: str, tool: str) -> Any:
    # Both tools can print warnings before the JSON document; start at the first brace/bracket.
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ToolOutputError(f"{tool} printed no JSON")
    try:
        return json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise ToolOutputError(f"{tool} output is not JSON: {exc}") from exc


def parse_rocm_smi_json(text: str) -> GpuInventory:
    data = _load_json(text, "rocm-smi")
    if not isinstance(data, dict):
        raise ToolOutputError("rocm-smi JSON is not an object keyed by card")
    system = data.get("system")
    driver = str(_get_ci(system if isinstance(system, dict) else {}, "Driver version") or "")
    cards = sorted((k for k in data if re.fullmatch(r"card\d+", k)), key=lambda k: int(k[4:]))
    gpus = []
    for key in cards:
        card = data[key]
        if not isinstance(card, dict):
            raise ToolOutputError(f"rocm-smi JSON: {key} is not an object")
        name = _get_ci(card, "Card Series", "Card series", "Device Name", "Card Model", "Card model")
        vram = _get_ci(card, "VRAM Total Memory (B)")
        mem = int(int(vram) / (1024 * 1024)) if vram is not None and str(vram).isdigit() else None
        problems = _problems({"Card Series": str(name) if name is not None else None,
                              "VRAM Total Memory (B)": str(vram) if vram is not None else None})
        gpus.append(GpuInfo(int(key[4:]), str(name or "AMD GPU").strip(), mem,
                            uuid=str(_get_ci(card, "Unique ID") or ""),
                            bus_id=str(_get_ci(card, "PCI Bus") or ""), problems=problems))
        driver = driver or str(_get_ci(card, "Driver version") or "")
    if value_problem("Driver version", driver):
        driver = ""
    return GpuInventory("amd", "rocm-smi --json", driver, tuple(gpus))


def _section(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    return value if isinstance(value, dict) else {}


def parse_amd_smi_static_json(text: str) -> GpuInventory:
    data = _load_json(text, "amd-smi")
    items = data.get("gpu_data", []) if isinstance(data, dict) else data
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ToolOutputError("amd-smi JSON is not a list of GPU objects")
    gpus, drivers = [], set()
    for i, item in enumerate(items):
        asic = _section(item, "asic")
        size = _section(item, "vram").get("size")
        if isinstance(size, dict):
            mem = _mib(f"{size.get('value')} {size.get('unit', 'MB')}")
        else:
            mem = _mib(str(size)) if size else None
        name = asic.get("market_name")
        problems = _problems({"market_name": None if name is None else str(name),
                              "vram.size": None if size is None else str(size.get("value") if isinstance(size, dict)
                                                                         else size)})
        gpus.append(GpuInfo(_index(item.get("gpu"), i), str(name or "AMD GPU").strip(),
                            mem, bus_id=str(_section(item, "bus").get("bdf", "")), problems=problems))
        version = _section(item, "driver").get("version")
        if version and not value_problem("driver.version", str(version)):
            drivers.add(str(version))
    return GpuInventory("amd", "amd-smi static --json", ", ".join(sorted(drivers)), tuple(gpus))


PARSERS = {
    "nvidia-csv": parse_nvidia_query_csv,
    "nvidia-xml": parse_nvidia_smi_xml,
    "nvidia-list": parse_nvidia_smi_list,
    "rocm-smi-json": parse_rocm_smi_json,
    "amd-smi-json": parse_amd_smi_static_json,
}


# ---- checks ------------------------------------------------------------------------------------


def diagnose_tool_failure(vendor: str, rc: int, output: str) -> str:
    """One sentence for a tool that exited non-zero or printed no GPU."""
    low = output.lower()
    tool = "nvidia-smi" if vendor == "nvidia" else "rocm-smi/amd-smi"
    if rc == 127 or "command not found" in low or "no such file" in low:
        return f"{tool} is not installed: the {vendor.upper()} driver or its tools are missing"
    if any(s in low for s in (_NVIDIA_NO_DRIVER if vendor == "nvidia" else _AMD_NO_DRIVER)):
        return f"the {vendor.upper()} driver is missing or not loaded ({tool}: {output.strip()[:200]})"
    if any(s in low for s in _NVIDIA_NO_DEVICE):
        return f"no GPU found: {tool} reports no devices"
    return f"{tool} failed with exit code {rc}: {output.strip()[:200]}"


def name_matches(expected: str, name: str) -> bool:
    """The expected model as whole words of the tool's name: H100 matches "NVIDIA H100 80GB HBM3",
    not "NVIDIA H100-MEGA" or "NVIDIA GH100"."""
    words = re.escape(expected.strip()).replace(r"\ ", r"\s+")
    return re.search(rf"(?<![\w-]){words}(?![\w-])", name, re.I) is not None


def check_inventory(inv: GpuInventory, *, expected_count: int | None = None,
                    expected_name: str | None = None, subject: str = "") -> list[Finding]:
    findings: list[Finding] = []
    if inv.count == 0:
        return [fail("gpu.present", f"no GPU found: {inv.source} lists no {inv.vendor.upper()} GPU",
                     subject)]
    findings.append(ok("gpu.present", inv.summary(), subject))
    broken = [g for g in inv.gpus if g.problems]
    if broken:
        findings.append(fail("gpu.health", "; ".join(f"GPU {g.index}{f' ({g.bus_id})' if g.bus_id else ''}: "
                                                     f"{', '.join(g.problems)}" for g in broken), subject))
    else:
        findings.append(ok("gpu.health", f"no GPU reports an error state ({inv.count} checked)", subject))
    if inv.stray_lines:
        findings.append(fail("gpu.tool-output", f"{inv.source} also printed: {' | '.join(inv.stray_lines)[:300]}",
                             subject))
    if inv.driver:
        findings.append(ok("gpu.driver", f"driver {inv.driver}", subject))
    else:
        findings.append(fail("gpu.driver", f"{inv.source} reports no driver version", subject))
    if expected_count is not None:
        if inv.count == expected_count:
            findings.append(ok("gpu.count", f"{inv.count} GPU(s), as expected", subject))
        else:
            findings.append(fail("gpu.count", f"{inv.count} GPU(s), expected {expected_count}", subject))
    if expected_name:
        wrong = [g for g in inv.gpus if not name_matches(expected_name, g.name)]
        if wrong:
            findings.append(fail("gpu.model", f"expected {expected_name!r}, found "
                                 f"{', '.join(sorted({g.name for g in wrong}))}", subject))
        else:
            findings.append(ok("gpu.model", f"every GPU is a {expected_name}", subject))
    no_mem = [g.index for g in inv.gpus if not g.memory_mib]
    if no_mem:
        findings.append(fail("gpu.memory", f"GPU(s) {', '.join(map(str, no_mem))} report no memory", subject))
    else:
        findings.append(ok("gpu.memory", ", ".join(f"GPU {g.index}: {g.memory_mib} MiB" for g in inv.gpus),
                           subject))
    return findings
