"""What tells the two GPU vendors apart on Kubernetes: the resource key each device plugin
advertises and the node label each labeller writes (NVIDIA GPU Feature Discovery; the AMD device
plugin's node labeller, direct `amd.com/gpu.product-name=<NAME>` form, which the fork reads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vendor:
    name: str
    resource_key: str
    product_label: str


NVIDIA = Vendor("nvidia", "nvidia.com/gpu", "nvidia.com/gpu.product")
AMD = Vendor("amd", "amd.com/gpu", "amd.com/gpu.product-name")
VENDORS = {v.name: v for v in (NVIDIA, AMD)}


def vendor(name: str) -> Vendor:
    try:
        return VENDORS[name]
    except KeyError:
        raise ValueError(f"unknown GPU vendor {name!r} (expected one of {', '.join(VENDORS)})") from None


def other(v: Vendor) -> Vendor:
    return AMD if v is NVIDIA else NVIDIA


def parse_quantity(value: object) -> int:
    """GPU quantities are whole numbers; the API returns them as strings ("2")."""
    if value is None:
        return 0
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return int(float(text)) if text.replace(".", "", 1).isdigit() else 0
