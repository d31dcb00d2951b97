#!/usr/bin/env python3
"""A small GPU vector add, run on the GPU host itself with whatever it has: PyTorch (CUDA or
ROCm), then CuPy, then a CUDA/HIP `vectorAdd` sample binary on the PATH. Standard library only
apart from those, so Ansible can copy it to any host with a python3.

Prints one JSON document. The verdict is not decided here: release.smoke.compute checks the
numbers against values it computes itself, so a wrong result cannot pass by a bug on the host.
"""

import json
import shutil
import subprocess
import sys

N = 1 << 16  # a*1 + b*2 with a = b = 0..N-1 stays exact in float32


def _report(backend, device, values):
    return {"backend": backend, "device": device, "n": len(values),
            "head": values[:8], "tail": values[-8:], "checksum": float(sum(values))}


def with_torch():
    import torch

    if not torch.cuda.is_available():
        return None
    platform = "rocm" if getattr(torch.version, "hip", None) else "cuda"
    dev = torch.device("cuda:0")
    a = torch.arange(N, dtype=torch.float32, device=dev)
    b = torch.arange(N, dtype=torch.float32, device=dev) * 2
    c = (a + b).cpu().tolist()
    return _report(f"torch-{platform}", torch.cuda.get_device_name(0), c)


def with_cupy():
    import cupy

    if cupy.cuda.runtime.getDeviceCount() < 1:
        return None
    a = cupy.arange(N, dtype=cupy.float32)
    b = cupy.arange(N, dtype=cupy.float32) * 2
    c = cupy.asnumpy(a + b).tolist()
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props.get("name", b"")
    return _report("cupy", name.decode() if isinstance(name, bytes) else str(name), c)


def with_sample_binary():
    for binary in ("vectorAdd", "hipVectorAdd", "vectoradd_hip.exe"):
        path = shutil.which(binary)
        if path:
            run = subprocess.run([path], capture_output=True, text=True, timeout=120, check=False)
            return {"backend": "binary", "device": binary, "rc": run.returncode,
                    "output": (run.stdout + run.stderr)[-2000:]}
    return None


def main():
    errors = []
    for attempt in (with_torch, with_cupy, with_sample_binary):
        try:
            result = attempt()
        except ImportError:
            continue
        except Exception as exc:  # a broken runtime is a finding, not a crash
            errors.append(f"{attempt.__name__}: {type(exc).__name__}: {exc}")
            continue
        if result is not None:
            result["errors"] = errors
            print(json.dumps(result))
            return 0
    print(json.dumps({"backend": "none", "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
