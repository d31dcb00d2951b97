"""A release repository as the GitHub-facing commands see it: its manifest (two carried patches) and
the rebase summary a rebase saves (state/last-rebase.json), clean with a changed patch or stopped by a
conflict."""

from __future__ import annotations

import json
from pathlib import Path

from support.manifests import Patch, write_manifest

from release.rebase.summary import CommitResult, ConflictInfo, Outcome, PatchResult, RebaseSummary


def sample_summary(*, conflict: bool = False) -> RebaseSummary:
    old1, new1, old2, new2 = "1" * 40, "3" * 40, "2" * 40, "4" * 40
    first = PatchResult(id="dual-gpu-api-server", title="Enable dual GPU in a single API server",
                        outcome=Outcome.CLEAN, commits=(CommitResult(old1, new1, Outcome.CLEAN),),
                        files=("sky/provision/kubernetes/utils.py",))
    if conflict:
        second = PatchResult(id="amd-gpu-detection", title="Automatic AMD GPU detection via device plugin labels",
                             outcome=Outcome.CONFLICT, commits=(CommitResult(old2, None, Outcome.CONFLICT),),
                             files=("sky/clouds/kubernetes.py",))
        info = ConflictInfo(patch_id="amd-gpu-detection",
                            patch_title="Automatic AMD GPU detection via device plugin labels",
                            commit=old2, subject="Detect AMD GPUs from device plugin labels",
                            files=("sky/clouds/kubernetes.py", "sky/utils/kubernetes_enums.py"),
                            next_commands=("git -C skypilot status", "ellm-release continue"))
        return RebaseSummary(version="0.13.0", branch="ellm-0.13.0", base="b" * 40, base_ref="v0.13.0",
                             previous_version="0.12.0", previous_base="a" * 40, state="conflict",
                             patches=(first, second), conflict=info)
    second = PatchResult(id="amd-gpu-detection", title="Automatic AMD GPU detection via device plugin labels",
                         outcome=Outcome.CHANGED, commits=(CommitResult(old2, new2, Outcome.CHANGED),),
                         files=("sky/clouds/kubernetes.py",),
                         range_diff="1:  2222222 ! 1:  4444444 Detect AMD GPUs\n    @@ -1 +1 @@\n    -old\n    +new\n")
    return RebaseSummary(version="0.13.0", branch="ellm-0.13.0", base="b" * 40, base_ref="v0.13.0",
                         previous_version="0.12.0", previous_base="a" * 40, state="complete",
                         patches=(first, second))


def save_summary(state: Path, summary: RebaseSummary) -> Path:
    state.mkdir(parents=True, exist_ok=True)
    path = state / "last-rebase.json"
    path.write_text(json.dumps(summary.to_dict(), indent=2))
    return path


def write_gh_manifest(path: Path, *, upstream_url: str, base: str) -> Path:
    """upstream from `upstream_url` at `base`, fork remote origin, a local registry."""
    return write_manifest(
        path, version="0.12.0", base=base,
        upstream={"url": upstream_url, "remote": "upstream"}, fork={"remote": "origin"},
        image={"repository": "127.0.0.1:5000/embeddedllm/skypilot"},
        patches=[Patch("dual-gpu-api-server", "Enable dual GPU in a single API server", ["c1" * 20],
                       "Counts GPUs of both vendors."),
                 Patch("amd-gpu-detection", "Automatic AMD GPU detection via device plugin labels", ["c2" * 20],
                       "Reads the AMD device plugin's labels.")])
