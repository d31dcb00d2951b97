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


@dataclass(frozen=True)
class GpuInventory:
    vendor: str  # nvidia | amd
    source: str  # which tool and format
    driver: str = ""
    gpus: tuple[GpuInfo, ...] = ()

    @property
    def count(self) -> int:
        return len(self.gpus)

    def summary(self) -> str:
        names = sorted({g.name for g in self.gpus})
        mem = sorted({g.memory_mib for g in self.gpus if g.memory_mib})
        mem_s = "/".join(f"{m} MiB" for m in mem) or "unknown memory"
        return (f"{self.count}x {', '.join(names) or 'no GPU'} ({mem_s}), "
                f"driver {self.driver or 'unknown'}, from {self.source}")


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
    gpus, drivers = [], set()
    for row in rows[1:]:
        rec = dict(zip(header, (c.strip() for c in row), strict=False))
        gpus.append(GpuInfo(index=int(rec.get("index", len(gpus))), name=rec["name"],
                            memory_mib=_mib(rec.get("memory.total", "")), uuid=rec.get("uuid", ""),
                            bus_id=rec.get("pci.bus_id", "")))
        if rec.get("driver_version"):
            drivers.add(rec["driver_version"])
    return GpuInventory("nvidia", "nvidia-smi --query-gpu", ", ".join(sorted(drivers)), tuple(gpus))


def parse_nvidia_smi_xml(text: str) -> GpuInventory:
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise ToolOutputError(f"nvidia-smi -q -x output is not XML: {exc}") from exc
    if root.tag != "nvidia_smi_log":
        raise ToolOutputError(f"expected <nvidia_smi_log>, got <{root.tag}>")
    gpus = []
    for i, gpu in enumerate(root.findall("gpu")):
        gpus.append(GpuInfo(index=int(gpu.findtext("minor_number", str(i)) or i),
                            name=(gpu.findtext("product_name") or "").strip(),
                            memory_mib=_mib(gpu.findtext("fb_memory_usage/total") or ""),
                            uuid=(gpu.findtext("uuid") or "").strip(), bus_id=gpu.get("id", "")))
    return GpuInventory("nvidia", "nvidia-smi -q -x", (root.findtext("driver_version") or "").strip(),
                        tuple(gpus))


_LIST_RE = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)]+)\)")


def parse_nvidia_smi_list(text: str) -> GpuInventory:
    gpus = [GpuInfo(int(m.group(1)), m.group(2).strip(), uuid=m.group(3))
            for m in map(_LIST_RE.match, text.splitlines()) if m]
    return GpuInventory("nvidia", "nvidia-smi -L", "", tuple(gpus))


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
    driver = str(_get_ci(data.get("system", {}) or {}, "Driver version") or "")
    cards = sorted((k for k in data if re.fullmatch(r"card\d+", k)), key=lambda k: int(k[4:]))
    gpus = []
    for key in cards:
        card = data[key]
        name = _get_ci(card, "Card Series", "Card series", "Device Name", "Card Model", "Card model")
        vram = _get_ci(card, "VRAM Total Memory (B)")
        mem = int(int(vram) / (1024 * 1024)) if vram is not None and str(vram).isdigit() else None
        gpus.append(GpuInfo(int(key[4:]), str(name or "AMD GPU").strip(), mem,
                            uuid=str(_get_ci(card, "Unique ID") or ""),
                            bus_id=str(_get_ci(card, "PCI Bus") or "")))
        driver = driver or str(_get_ci(card, "Driver version") or "")
    return GpuInventory("amd", "rocm-smi --json", driver, tuple(gpus))


def parse_amd_smi_static_json(text: str) -> GpuInventory:
    data = _load_json(text, "amd-smi")
    items = data.get("gpu_data", []) if isinstance(data, dict) else data
    if isinstance(items, dict):
        items = [items]
    gpus, drivers = [], set()
    for i, item in enumerate(items or []):
        asic = item.get("asic", {}) or {}
        size = (item.get("vram", {}) or {}).get("size")
        if isinstance(size, dict):
            mem = _mib(f"{size.get('value')} {size.get('unit', 'MB')}")
        else:
            mem = _mib(str(size)) if size else None
        gpus.append(GpuInfo(int(item.get("gpu", i)), str(asic.get("market_name") or "AMD GPU").strip(),
                            mem, bus_id=str((item.get("bus", {}) or {}).get("bdf", ""))))
        version = (item.get("driver", {}) or {}).get("version")
        if version:
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


def check_inventory(inv: GpuInventory, *, expected_count: int | None = None,
                    expected_name: str | None = None, subject: str = "") -> list[Finding]:
    findings: list[Finding] = []
    if inv.count == 0:
        return [fail("gpu.present", f"no GPU found: {inv.source} lists no {inv.vendor.upper()} GPU",
                     subject)]
    findings.append(ok("gpu.present", inv.summary(), subject))
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
        wrong = [g for g in inv.gpus if expected_name.lower() not in g.name.lower()]
        if wrong:
            findings.append(fail("gpu.model", f"expected {expected_name!r}, found "
                                 f"{', '.join(sorted({g.name for g in wrong}))}", subject))
        else:
            findings.append(ok("gpu.model", f"every GPU is a {expected_name}", subject))
    no_mem = [g.index for g in inv.gpus if not g.memory_mib]
    if no_mem:
        findings.append(fail("gpu.memory", f"GPU(s) {no_mem} report no memory", subject))
    else:
        findings.append(ok("gpu.memory", ", ".join(f"GPU {g.index}: {g.memory_mib} MiB" for g in inv.gpus),
                           subject))
    return findings
