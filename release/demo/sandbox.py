"""Builds local git worlds shaped like the real one: a bare "upstream", a bare fork, a working
copy with both remotes, and a release repository holding a manifest. The demo, the tests and the
benchmarks all use it, so each scenario is described once.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Sandbox Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Sandbox Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str, input_text: str | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, input=input_text, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout.strip()


def commit_files(repo: Path, files: Mapping[str, str | None], message: str) -> str:
    """Write (or delete, for None) files and commit them; returns the new SHA."""
    for name, content in files.items():
        path = repo / name
        if content is None:
            git(repo, "rm", "-q", name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        git(repo, "add", name)
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def init_repo(path: Path, branch: str = "master") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "config", "user.name", GIT_ENV["GIT_AUTHOR_NAME"])
    git(path, "config", "user.email", GIT_ENV["GIT_AUTHOR_EMAIL"])
    git(path, "config", "commit.gpgsign", "false")
    return path


@dataclass
class PatchSpec:
    id: str
    title: str
    description: str
    commits: list[str] = field(default_factory=list)
    status: str = "carry"
    upstream: str | None = None  # the upstream pull request that merges it, when there is one


@dataclass
class World:
    root: Path
    upstream_bare: Path
    fork_bare: Path
    upstream_work: Path
    fork: Path  # the maintainers' working copy (remotes: origin = fork, upstream = upstream)
    release_repo: Path
    manifest_path: Path
    base: str  # the commit ellm-<old> sits on
    patches: list[PatchSpec] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)  # named commits, for tests and the demo

    def write_manifest(self, version: str, base: str, image_repository: str = "127.0.0.1:5000/embeddedllm/skypilot",
                       patches: list[PatchSpec] | None = None) -> Path:
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        self.manifest_path.write_text(render_manifest(
            version, base, self.upstream_bare, self.fork_bare, image_repository, patches or self.patches,
        ), encoding="utf-8")
        return self.manifest_path


def render_manifest(version: str, base: str, upstream_url: Path | str, fork_url: Path | str, image_repository: str,
                    patches: list[PatchSpec]) -> str:
    lines = [
        "# Sandbox manifest (same format as patches/manifest.yaml)",
        "upstream:",
        "  repo: example/upstream",
        f"  url: {upstream_url}",
        "  remote: upstream",
        f"  version: {version}",
        f"  base: {base}",
        "fork:",
        "  repo: example/fork",
        f"  url: {fork_url}",
        "  remote: origin",
        "  master: master",
        "  branch: ellm-{version}",
        "image:",
        f"  repository: {image_repository}",
        "  stable_tag: v{version}",
        "  dev_tag: v{version}-dev",
        "  platform: linux/amd64",
        "  dockerfile: Dockerfile",
        "  context: .",
        "chart:",
        "  name: skypilot/skypilot",
        "  repo_name: skypilot",
        "  repo_url: https://helm.skypilot.co",
        "patches:",
    ]
    for p in patches:
        lines += [f"  - id: {p.id}", f"    title: {_quote(p.title)}", f"    status: {p.status}", "    commits:"]
        lines += [f"      - {sha}" for sha in p.commits]
        if p.upstream:
            lines.append(f"    upstream: {p.upstream}")
        lines += ["    description: |", textwrap.indent(p.description.strip(), "      ")]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ------------------------------------------------------------------------------------------ the world

UPSTREAM_README = "# Upstream project\n\nRun AI on any infrastructure. Caf\u00e9 \u2014 bytes kept exactly.\n"

KUBERNETES_PY = """\
# sky/clouds/kubernetes.py (sandbox)
GPU_RESOURCE_KEYS = ['nvidia.com/gpu']


def resource_key(label):
    return 'nvidia.com/gpu'
"""

UTILS_PY = """\
# sky/provision/kubernetes/utils.py (sandbox)
def get_node_accelerator_count(node):
    return int(node.get('nvidia.com/gpu', 0))


def label_formatters():
    return ['GFDLabelFormatter', 'SkyPilotLabelFormatter']
"""

CONTROLLER_PY = """\
# sky/utils/controller_utils.py (sandbox)
LAUNCHES_PER_SERVICE = 4
LONG_WORKER_MEM_GB = 0.4
"""

CONSTANTS_PY = """\
# sky/skylet/constants.py (sandbox)
SKY_REMOTE_PYTHON_ENV = '~/skypilot-runtime'
"""

NVIDIA_KEY_LINE = "    return 'amd.com/gpu' if label.startswith('amd.com/') else 'nvidia.com/gpu'"

DOCKERFILE = """\
# The sandbox image: nothing is pulled, so it builds anywhere a Docker engine runs.
FROM scratch
COPY sky /opt/sky
COPY VERSION /opt/VERSION
"""


def build_world(root: Path, *, conflict: bool = True, upstreamed: bool = True, filler_commits: int = 3,
                stack_size: int = 0, context_drift: bool = False, merged_differently: bool = False) -> World:
    """Upstream with v0.12.0 and v0.13.0 (each on its releases/X branch), a fork whose ellm-0.12.0
    carries a patch stack, and stray rc branches in the fork.

    conflict:    upstream 0.13.0 changes the line the serve-capacity patch changes.
    upstreamed:  upstream 0.13.0 merged the uv-pin patch as it is.
    stack_size:  extra one-file patches (for benchmarks), each a commit of its own.
    context_drift: upstream 0.13.0 edits a line next to the dual-gpu patch's change, without touching
                 the changed line: the patch still applies, but its diff (context) is different.
    merged_differently: upstream 0.13.0 makes the nvidia-resource-key patch's change itself, in a
                 commit that edits another line of the same file too: the patch-ids differ, and the
                 pick comes out empty.
    """
    root.mkdir(parents=True, exist_ok=True)
    upstream_bare = root / "upstream.git"
    fork_bare = root / "fork.git"
    git(root, "init", "-q", "--bare", "-b", "master", str(upstream_bare))
    up = init_repo(root / "upstream-work")
    git(up, "remote", "add", "origin", str(upstream_bare))

    commit_files(up, {"README.md": UPSTREAM_README, "VERSION": "0.11.0\n", "Dockerfile": DOCKERFILE,
                      "sky/clouds/kubernetes.py": KUBERNETES_PY, "sky/provision/kubernetes/utils.py": UTILS_PY,
                      "sky/utils/controller_utils.py": CONTROLLER_PY, "sky/skylet/constants.py": CONSTANTS_PY},
                 "Initial upstream import")
    for i in range(filler_commits):
        commit_files(up, {f"docs/notes-{i}.md": f"note {i}\n"}, f"[Docs] Add note {i}")
    base = git(up, "rev-parse", "HEAD")
    # upstream's release flow: a releases/X branch cut from master, tagged there
    _release(up, "0.12.0")
    git(up, "push", "-q", "origin", "master", "releases/0.12.0", "v0.12.0")

    # the fork: a copy of upstream at this point, then the patch stack on ellm-0.12.0
    git(root, "clone", "-q", "--bare", str(upstream_bare), str(fork_bare))
    fork = root / "skypilot"
    git(root, "clone", "-q", str(fork_bare), str(fork))
    for key, value in (("user.name", "Fork Maintainer"), ("user.email", "maintainer@example.invalid"),
                       ("commit.gpgsign", "false")):
        git(fork, "config", key, value)
    git(fork, "remote", "add", "upstream", str(upstream_bare))
    git(fork, "fetch", "-q", "upstream", "--tags")
    git(fork, "checkout", "-q", "-b", "ellm-0.12.0", base)
    world = World(root, upstream_bare, fork_bare, up, fork, root / "release", root / "release/patches/manifest.yaml",
                  base)
    world.patches = _patch_stack(world, stack_size)
    git(fork, "push", "-q", "origin", "ellm-0.12.0")
    # branches upstream's own scheduled workflow left in the fork: never releases
    for stray in ("releases/0.13.0rc1", "test_releases/0.13.0rc1"):
        git(fork, "push", "-q", "origin", f"{base}:refs/heads/{stray}")

    # upstream moves on to 0.13.0
    git(up, "checkout", "-q", "master")
    for i in range(filler_commits):
        commit_files(up, {f"docs/more-{i}.md": f"more {i}\n"}, f"[Docs] More notes {i}")
    if upstreamed:
        uv = world.marks["uv-pin"]
        git(up, "fetch", "-q", str(fork), uv)
        git(up, "cherry-pick", uv)
        world.marks["upstream-uv"] = git(up, "rev-parse", "HEAD")
    if context_drift:
        world.marks["upstream-context"] = commit_files(
            up, {"sky/provision/kubernetes/utils.py": UTILS_PY.replace("(sandbox)", "(sandbox, reorganised)")},
            "[Kubernetes] Reword the utils header (#4250)")
    if merged_differently:
        merged = KUBERNETES_PY.replace("GPU_RESOURCE_KEYS = ['nvidia.com/gpu']",
                                       "GPU_RESOURCE_KEYS = ['nvidia.com/gpu', 'amd.com/gpu']")
        merged = merged.replace("    return 'nvidia.com/gpu'", NVIDIA_KEY_LINE)
        world.marks["upstream-merged"] = commit_files(
            up, {"sky/clouds/kubernetes.py": merged}, "[Kubernetes] Support AMD resource keys (#4261)")
    if conflict:
        world.marks["upstream-conflict"] = commit_files(
            up, {"sky/utils/controller_utils.py": CONTROLLER_PY.replace("= 4", "= 3")},
            "[Serve] Tune launches per service (#4242)")
    commit_files(up, {"README.md": UPSTREAM_README + "\nNew in 0.13: faster launches.\n"}, "[Docs] README for 0.13")
    world.marks["master-0.13"] = git(up, "rev-parse", "HEAD")
    _release(up, "0.13.0")
    git(up, "checkout", "-q", "master")
    commit_files(up, {"docs/after.md": "after the release\n"}, "[Docs] After 0.13.0")
    _release(up, "0.14.0rc1")
    git(up, "checkout", "-q", "master")
    git(up, "push", "-q", "origin", "master", "releases/0.13.0", "releases/0.14.0rc1", "v0.13.0", "v0.14.0rc1")
    world.write_manifest("0.12.0", base)
    return world


def _release(up: Path, version: str) -> None:
    git(up, "checkout", "-q", "-b", f"releases/{version}")
    commit_files(up, {"VERSION": f"{version}\n"}, f"Release {version}")
    git(up, "tag", "-a", f"v{version}", "-m", f"SkyPilot {version}")


def _patch_stack(world: World, stack_size: int) -> list[PatchSpec]:
    fork = world.fork
    patches: list[PatchSpec] = []

    utils = UTILS_PY.replace("return int(node.get('nvidia.com/gpu', 0))",
                             "return int(node.get('nvidia.com/gpu', 0)) or int(node.get('amd.com/gpu', 0))")
    sha = commit_files(fork, {"sky/provision/kubernetes/utils.py": utils}, "Enable dual GPU in a single API server")
    patches.append(PatchSpec("dual-gpu-api-server", "Enable dual GPU in a single API server",
                             "Counts <code>amd.com/gpu</code> as well as <code>nvidia.com/gpu</code>.", [sha]))

    amd = utils.replace("['GFDLabelFormatter', 'SkyPilotLabelFormatter']",
                        "['GFDLabelFormatter', 'SkyPilotLabelFormatter', 'AMDGPULabelFormatter']")
    first = commit_files(fork, {"sky/provision/kubernetes/utils.py": amd,
                                "sky/utils/gpu_names.py": "AMD_GPUS = ['MI300X', 'MI250X', 'MI210']\n"},
                         "Automatic AMD GPU detection via device plugin labels")
    second = commit_files(fork, {"sky/utils/gpu_names.py": "AMD_GPUS = ['MI300X', 'MI250X']\n"},
                          "Simplify AMD detection")
    patches.append(PatchSpec("amd-gpu-autodetect", "Automatic AMD GPU detection via device plugin labels",
                             "Reads <code>amd.com/gpu.product-name</code> labels.", [first, second]))

    title = "Fix wrong GPU resource key for NVIDIA pods in mixed clusters"
    keyed = KUBERNETES_PY.replace("    return 'nvidia.com/gpu'", NVIDIA_KEY_LINE)
    sha = commit_files(fork, {"sky/clouds/kubernetes.py": keyed}, title)
    patches.append(PatchSpec("nvidia-resource-key-mixed", title, "Derives the resource key from the matched label.",
                             [sha]))

    sha = commit_files(fork, {"sky/utils/controller_utils.py": CONTROLLER_PY.replace("= 4", "= 2")},
                       "[Serve] Raise per-controller service capacity for k8s workloads")
    patches.append(PatchSpec("serve-controller-capacity", "[Serve] Raise per-controller service capacity for k8s "
                             "workloads", "Lowers <code>LAUNCHES_PER_SERVICE</code> to 2.", [sha]))

    sha = commit_files(fork, {"sky/skylet/constants.py": CONSTANTS_PY + "SKY_UV_PIP_INSTALL_CMD = "
                              "'uv pip install --python ~/skypilot-runtime/bin/python'\n"},
                       "Pin uv pip to runtime venv's Python via --python flag")
    world.marks["uv-pin"] = sha
    patches.append(PatchSpec("uv-pip-python-pin", "Pin uv pip to runtime venv's Python via --python flag",
                             "Passes <code>--python</code> to every <code>uv pip</code> call.", [sha]))

    for i in range(stack_size):
        sha = commit_files(fork, {f"sky/extra/patch_{i:03d}.py": f"VALUE = {i}\n"}, f"Extra patch {i}")
        patches.append(PatchSpec(f"extra-{i:03d}", f"Extra patch {i}", f"Synthetic patch {i}.", [sha]))

    # the hand-edited fork README of the old days: README-only, never replayed
    world.marks["fork-readme"] = commit_files(fork, {"README.md": "# Fork\n\n" + UPSTREAM_README},
                                              "Update fork README")
    return patches
