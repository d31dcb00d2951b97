"""Pure rendering: the real manifest with made-up rows, and the compose/split pair. No git here."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from release.errors import ReleaseError
from release.manifest.model import Manifest, load_manifest
from release.readme.render import (
    MARK_END,
    MARK_START,
    PatchRow,
    compose_readme,
    recorded_digest,
    render_fork_block,
    split_readme,
)

REAL_MANIFEST = Path(__file__).resolve().parents[2] / "patches" / "manifest.yaml"

# The facts the hand-written 0.12.0 README states, which the generated one must state too.
REAL_TITLES = [
    "Enable dual GPU in a single API server",
    "[Kubernetes] Fix podip endpoint in HA mode",
    "Automatic AMD GPU detection via device plugin labels",
    "Fix wrong GPU resource key for NVIDIA pods in mixed clusters",
    "Fix GPU count display for NVIDIA replicas in mixed clusters",
    "Fix node-affinity values rendered as int for AMD GPU labels",
    "Fix pod scheduling for mixed NVIDIA + AMD clusters",
    "[Kubernetes] Replace rsync with tar-stream for in-pod file transfer",
    "[Kubernetes] Fix kubectl exec hang after setup script completes",
    "[Serve] Raise per-controller service capacity for k8s workloads",
    "Pin uv pip to runtime venv's Python via --python flag",
]
REAL_PICKS = [
    "493fb1f", "f3b4561", "9cd2668", "b35db4a", "f65b71f", "57c8ba2", "37a0b54", "e9581a9",
    "d5731f4", "e3237a7", "4f1c887", "32e4e61", "502df1c", "c6f8f23", "78fe751",
]


@pytest.fixture(scope="module")
def real() -> Manifest:
    return load_manifest(REAL_MANIFEST)


def synthetic_rows(manifest: Manifest) -> list[PatchRow]:
    return [PatchRow(p, p.commits, (f"sky/{p.id}.py", "sky/common.py")) for p in manifest.patches]


def test_real_manifest_has_every_fact_of_the_reference(real: Manifest) -> None:
    block = render_fork_block(real, synthetic_rows(real))
    for fact in ("<h2>", "<code>0.12.0</code>", "<code>ellm-0.12.0</code>",
                 "<code>ghcr.io/embeddedllm/skypilot:v0.12.0</code>", "skypilot-org/skypilot",
                 "<code>v0.12.0</code>", "<code>v0.12.0-dev</code>",
                 "Stable, production-ready build based on upstream v0.12.0",
                 "Development build off the <code>ellm-0.12.0</code> branch",
                 "<th>Patch</th><th>Commit</th><th>Files Changed</th><th>Description</th>",
                 "### Development workflow", "git checkout -b feat/my-feature",
                 "gh pr create --base ellm-0.12.0",
                 "docker buildx build --push --platform linux/amd64",
                 "-t ghcr.io/embeddedllm/skypilot:v0.12.0-dev", "ellm-release promote",
                 "### Deploying", "### Upgrading to a new upstream version",
                 "ellm-release sync", "ellm-release rebase <new_version>",
                 "patches/manifest.yaml", "ellm-release readme"):
        assert fact in block, fact
    helm = ("helm upgrade --install $RELEASE_NAME skypilot/skypilot \\\n  --version 0.12.0 \\\n"
            "  --namespace $NAMESPACE \\\n  --values values-0.12.0.yaml")
    assert helm in block
    for title in REAL_TITLES:
        assert title.replace("'", "&#39;") in block or title in block, title
        assert f"<td><b>{title}</b></td>".replace("'", "&#39;") in block, title
    picks = re.findall(r"^git cherry-pick ([0-9a-f]{7}) # (.+)$", block, flags=re.MULTILINE)
    assert [sha for sha, _ in picks] == REAL_PICKS
    assert picks[3] == ("b35db4a", "Automatic AMD GPU detection via device plugin labels (2/2)")
    assert picks[-1] == ("78fe751", "Pin uv pip to runtime venv's Python via --python flag")


def test_multi_commit_patch_shows_last_commit_plus_the_others(real: Manifest) -> None:
    block = render_fork_block(real, synthetic_rows(real))
    assert "<td><code>4f1c887</code><br>(plus <code>d5731f4</code>, <code>e3237a7</code>)</td>" in block
    assert "<td><code>502df1c</code><br>(plus <code>32e4e61</code>)</td>" in block
    assert "<td><code>493fb1f</code></td>" in block
    assert "<code>sky/dual-gpu-api-server.py</code><br><code>sky/common.py</code>" in block


def test_block_is_deterministic_and_marked(real: Manifest) -> None:
    first = render_fork_block(real, synthetic_rows(real))
    assert first == render_fork_block(real, synthetic_rows(real))
    assert first.startswith(MARK_START + "\n")
    assert first.endswith(MARK_END + "\n")
    assert not re.search(r"20\d\d-\d\d-\d\d", first)  # no dates


def test_only_carried_patches_are_listed(real: Manifest) -> None:
    gone = replace(real.patches[1], status="upstreamed", upstream="https://github.com/x/y/pull/9")
    manifest = replace(real, patches=(real.patches[0], gone, *real.patches[2:]))
    rows = [PatchRow(p, p.commits, ()) for p in manifest.carried_patches]
    block = render_fork_block(manifest, rows)
    assert "<td><b>[Kubernetes] Fix podip endpoint in HA mode</b></td>" not in block
    assert "git cherry-pick f3b4561" not in block
    assert "No longer carried:" in block
    assert '[Kubernetes] Fix podip endpoint in HA mode (upstreamed, <a href="https://github.com/x/y/pull/9">' in block


def test_description_html_is_kept_and_blank_lines_dropped(real: Manifest) -> None:
    patch = replace(real.patches[0], description="<b>one</b>\n\n   \ntwo &amp; three")
    block = render_fork_block(real, [PatchRow(patch, patch.commits, ())])
    assert "<b>one</b>\ntwo &amp; three\n" in block
    table = block[block.index("<th>Patch</th>"):block.index("</table>", block.index("<th>Patch</th>"))]
    assert "\n\n" not in table  # a blank line would end GitHub's HTML block


@pytest.mark.parametrize("upstream", [b"plain\n", b"caf\xc3\xa9 \xff no newline", b"\n\nleading blanks", b""])
def test_compose_then_split_gives_back_the_exact_upstream(upstream: bytes) -> None:
    block = f"{MARK_START}\nfork\n{MARK_END}\n"
    composed = compose_readme(block, upstream)
    assert composed.endswith(upstream)
    got_block, got_upstream = split_readme(composed)
    assert got_block == block.encode()
    assert got_upstream == upstream


def test_split_accepts_text_and_readmes_without_a_block() -> None:
    text = compose_readme(f"{MARK_START}\nx\n{MARK_END}", "upstream \u2014 text").decode()
    assert split_readme(text) == (f"{MARK_START}\nx\n{MARK_END}\n", "upstream \u2014 text")
    assert split_readme(b"just upstream\n") == (b"", b"just upstream\n")


def test_split_rejects_unpaired_markers() -> None:
    with pytest.raises(ReleaseError, match="markers"):
        split_readme(f"{MARK_START}\nno end\n")
    with pytest.raises(ReleaseError, match="markers"):
        split_readme(f"{MARK_END}\n{MARK_START}\n")


# ---- the deploy section follows the deploy role ---------------------------------------------------

ROLE_DEFAULTS = Path(__file__).resolve().parents[2] / "playbooks/roles/skypilot_deploy/defaults/main.yml"


def deploy_section(block: str) -> str:
    return block[block.index("### Deploying"):block.index("### Upgrading")]


def readme_values(section: str) -> dict:
    """The values file the README's recipe writes (its heredoc), as Helm would read it."""
    heredoc = re.search(r"<<EOF\n(.*?)\nEOF\n", section, flags=re.DOTALL)
    assert heredoc, section
    return yaml.safe_load(heredoc.group(1).replace("$RELEASE_NAME", "skypilot"))


def test_the_deploy_section_keeps_credentials_off_the_command_line(real: Manifest) -> None:
    section = deploy_section(render_fork_block(real, synthetic_rows(real)))
    assert "ansible-playbook -i playbooks/inventories/production playbooks/deploy.yml" in section
    assert "--set" not in section and "authCredentials=" not in section and "AUTH_STRING" not in section
    # the password is typed into htpasswd and lands in a Secret, made before the chart runs
    assert section.index("kubectl create secret generic") < section.index("helm upgrade --install")
    assert "--from-file=auth" in section
    values = readme_values(section)
    assert values["ingress"] == {"authSecret": "skypilot-ellm-basic-auth", "authCredentials": None}
    assert values["apiService"] == {"image": "ghcr.io/embeddedllm/skypilot:v0.12.0"}
    # the Secret the recipe makes is the one the deploy role manages, so the two paths agree
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text(encoding="utf-8"))
    assert defaults["skypilot_deploy_auth_secret_name"].replace("{{ skypilot_deploy_release_name }}", "skypilot") \
        == values["ingress"]["authSecret"]


def test_the_deploy_section_pins_a_digest_when_given_one(real: Manifest) -> None:
    digest = "sha256:" + "ab" * 32
    section = deploy_section(render_fork_block(real, synthetic_rows(real), digest=digest))
    assert readme_values(section)["apiService"]["image"] == f"ghcr.io/embeddedllm/skypilot:v0.12.0@{digest}"
    assert "Pin the digest too" not in section
    section = deploy_section(render_fork_block(real, synthetic_rows(real)))
    assert readme_values(section)["apiService"]["image"] == "ghcr.io/embeddedllm/skypilot:v0.12.0"
    assert "Pin the digest too once the image is promoted" in section


def test_the_deploy_sentence_reads_as_words_with_and_without_a_digest(real: Manifest) -> None:
    # the image reference and the words after it are separate words in the rendered Markdown
    section = deploy_section(render_fork_block(real, synthetic_rows(real)))
    assert "with image `ghcr.io/embeddedllm/skypilot:v0.12.0` pinned to its digest" in section
    digest = "sha256:" + "ab" * 32
    section = deploy_section(render_fork_block(real, synthetic_rows(real), digest=digest))
    assert f"with image `ghcr.io/embeddedllm/skypilot:v0.12.0@{digest}`,\n" in section


def test_the_recorded_digest_is_the_promoted_one(real: Manifest, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLM_STATE_DIR", str(tmp_path))
    assert recorded_digest(real) is None
    (tmp_path / "images").mkdir()
    record = tmp_path / "images" / "0.12.0.json"
    record.write_text(json.dumps({"version": "0.12.0", "dev_digest": "sha256:" + "cd" * 32, "stable_digest": None}))
    assert recorded_digest(real) is None  # built, not promoted
    record.write_text(json.dumps({"version": "0.12.0", "stable_digest": "sha256:" + "ab" * 32}))
    assert recorded_digest(real) == "sha256:" + "ab" * 32


def test_a_release_candidate_gets_the_charts_semver_version(real: Manifest) -> None:
    candidate = replace(real, version="0.14.0rc1")
    section = deploy_section(render_fork_block(candidate, synthetic_rows(candidate)))
    assert "--version 0.14.0-rc.1" in section
    assert readme_values(section)["apiService"]["image"] == "ghcr.io/embeddedllm/skypilot:v0.14.0rc1"
