"""Which GPU vendor a host has, decided from what any Linux host can show without GPU tools:
PCI devices in sysfs (`grep -H . /sys/bus/pci/devices/*/{vendor,class}`), the device nodes the
drivers create (/dev/nvidiactl, /dev/kfd) and which vendor tools are on the PATH."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from release.smoke.findings import Finding, fail, ok

PCI_VENDORS = {"0x10de": "nvidia", "0x1002": "amd"}
# PCI base classes a GPU shows up as: 0x03 display controller, 0x12 processing accelerator.
GPU_PCI_CLASSES = ("0x03", "0x12")


@dataclass(frozen=True)
class HostFacts:
    pci: str = ""  # `grep -H . .../vendor .../class` output
    device_nodes: tuple[str, ...] = ()  # which of /dev/nvidiactl, /dev/kfd exist
    tools: tuple[str, ...] = ()  # which of nvidia-smi, rocm-smi, amd-smi are on the PATH
    hostname: str = ""


@dataclass(frozen=True)
class HostGpus:
    pci_gpus: dict[str, int] = field(default_factory=dict)  # vendor -> count of PCI GPU functions
    vendors: tuple[str, ...] = ()  # vendors with any evidence
    drivers_loaded: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()


def parse_probe(text: str, hostname: str = "") -> HostFacts:
    """The probe the node-check role runs prints sections headed '--- pci', '--- nodes', '--- tools'."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("--- "):
            current = line[4:].strip()
            sections[current] = []
        elif current and line.strip():
            sections[current].append(line.strip())
    return HostFacts(pci="\n".join(sections.get("pci", [])), device_nodes=tuple(sections.get("nodes", [])),
                     tools=tuple(sections.get("tools", [])), hostname=hostname)


def pci_gpu_counts(pci: str) -> dict[str, int]:
    devices: dict[str, dict[str, str]] = {}
    for line in pci.splitlines():
        m = re.match(r"^(.*)/(vendor|class):(0x[0-9a-fA-F]+)\s*$", line.strip())
        if m:
            devices.setdefault(m.group(1), {})[m.group(2)] = m.group(3).lower()
    counts: dict[str, int] = {}
    for dev in devices.values():
        vendor = PCI_VENDORS.get(dev.get("vendor", ""))
        if vendor and dev.get("class", "").startswith(GPU_PCI_CLASSES):
            counts[vendor] = counts.get(vendor, 0) + 1
    return counts


def inspect(facts: HostFacts) -> HostGpus:
    pci = pci_gpu_counts(facts.pci)
    loaded = tuple(v for v, node in (("nvidia", "/dev/nvidiactl"), ("amd", "/dev/kfd"))
                   if node in facts.device_nodes)
    tool_vendors = {"nvidia-smi": "nvidia", "rocm-smi": "amd", "amd-smi": "amd"}
    by_tool = {tool_vendors[t] for t in facts.tools if t in tool_vendors}
    vendors = tuple(sorted(set(pci) | set(loaded) | by_tool))
    return HostGpus(pci, vendors, loaded, tuple(sorted(facts.tools)))


def check_host(facts: HostFacts) -> tuple[list[Finding], tuple[str, ...]]:
    """Findings about the host, and the vendors whose tools should be run next."""
    host = inspect(facts)
    subject = facts.hostname
    if not host.vendors:
        return [fail("host.gpu", "no GPU found: no NVIDIA or AMD PCI GPU, no /dev/nvidiactl or /dev/kfd, "
                     "and no nvidia-smi, rocm-smi or amd-smi on the PATH", subject)], ()
    findings: list[Finding] = []
    runnable = []
    for vendor in host.vendors:
        count = host.pci_gpus.get(vendor, 0)
        tools = [t for t in host.tools if (t == "nvidia-smi") == (vendor == "nvidia")]
        what = f"{count} {vendor.upper()} PCI GPU function(s)" if count else f"{vendor.upper()} evidence"
        if vendor not in host.drivers_loaded:
            findings.append(fail("host.driver", f"{what} but the {vendor.upper()} kernel driver is not loaded "
                                 f"({'/dev/nvidiactl' if vendor == 'nvidia' else '/dev/kfd'} missing)",
                                 subject))
        if not tools:
            wanted = "nvidia-smi" if vendor == "nvidia" else "rocm-smi or amd-smi"
            findings.append(fail("host.tools", f"{what} but no {wanted} on the PATH: install the driver's "
                                 "user-space tools", subject))
        if vendor in host.drivers_loaded and tools:
            findings.append(ok("host.gpu", f"{what}, driver loaded, tools: {', '.join(tools)}", subject))
            runnable.append(vendor)
    return findings, tuple(runnable)
