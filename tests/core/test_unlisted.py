"""No code is dropped without an explicit decision: commits of the release branch that no patch
names stop the rebase; `patch add` adopts them, `--drop-unlisted` leaves them out on the record;
`patch sort` puts the manifest in the branch's order. All on real sandbox repositories."""

from __future__ import annotations

import difflib
import json

import yaml
from repo_checks import last_summary_file, picked_from, snapshot, state_file
from support.git import commit_files, git
from support.worlds import Cli, WorldFactory
from test_refusals import assert_refused

from release.demo.sandbox import PatchSpec, World
from release.manifest.model import load_manifest
from release.rebase.summary import md_text

HOTFIX = "[k8s] Hotfix: keep pods on their node"


def add_hotfix(world: World) -> str:
    return commit_files(world.fork, {"sky/hotfix.py": "FIX = True\n"}, HOTFIX)


def hotfix_mid_branch(world: World, after_patch: str) -> str:
    """Rebuild ellm-0.12.0 with a hand-made commit right after `after_patch`'s commits, and write
    the manifest with the rebuilt SHAs (a comment above a patch, to see that it stays)."""
    patches = world.patches
    cut = next(i for i, p in enumerate(patches) if p.id == after_patch) + 1
    git(world.fork, "checkout", "-q", "-B", "ellm-0.12.0", patches[cut - 1].commits[-1])
    hotfix = commit_files(world.fork, {"sky/hotfix.py": "FIX = True\n"}, HOTFIX)
    rebuilt: list[PatchSpec] = list(patches[:cut])
    for patch in patches[cut:]:
        new = []
        for sha in patch.commits:
            git(world.fork, "cherry-pick", sha)
            new.append(git(world.fork, "rev-parse", "HEAD"))
        rebuilt.append(PatchSpec(patch.id, patch.title, patch.description, new, patch.status))
    git(world.fork, "push", "-q", "--force", "origin", "ellm-0.12.0")
    world.patches = rebuilt
    world.write_manifest("0.12.0", world.base)
    text = world.manifest_path.read_text(encoding="utf-8")
    world.manifest_path.write_text(text.replace("  - id: serve-controller-capacity",
                                                "  # kept: a comment above a patch\n  - id: serve-controller-capacity"),
                                   encoding="utf-8")
    return hotfix


# ------------------------------------------------------------------------------------------- refusal


def test_rebase_refuses_an_unlisted_commit_naming_it_and_both_ways_on(clean_world: World, cli: Cli) -> None:
    world = clean_world
    hotfix = add_hotfix(world)

    first = assert_refused(world, cli, ("rebase", "0.13.0"), hotfix[:12], HOTFIX,
                           f"ellm-release patch add {hotfix[:12]}", "ellm-release rebase 0.13.0 --drop-unlisted")
    assert "no patch in the manifest names" in first
    # the README-only commit on the branch is not among them
    assert world.marks["fork-readme"][:12] not in first
    # a rehearsal refuses the same way, and shows the same decision to make
    assert_refused(world, cli, ("--dry-run", "rebase", "0.13.0"), hotfix[:12],
                   "ellm-release --dry-run rebase 0.13.0 --drop-unlisted")


def test_rebase_refuses_a_manifest_without_patches(clean_world: World, cli: Cli) -> None:
    world = clean_world
    world.manifest_path.write_text(world.manifest_path.read_text(encoding="utf-8").split("patches:")[0]
                                   + "patches: []\n", encoding="utf-8")
    assert_refused(world, cli, ("rebase", "0.13.0"), "lists no patches")


def test_rebase_refuses_when_the_forks_branch_has_commits_the_local_one_lacks(
        clean_world: World, cli: Cli, tmp_path_factory: object) -> None:
    world = clean_world
    colleague = world.root / "colleague"
    git(world.root, "clone", "-q", "-b", "ellm-0.12.0", str(world.fork_bare), str(colleague))
    git(colleague, "config", "user.email", "c@example.invalid")
    git(colleague, "config", "user.name", "Colleague")
    fix = commit_files(colleague, {"sky/colleague.py": "FIX = 1\n"}, "Colleague's fix")
    git(colleague, "push", "-q", "origin", "ellm-0.12.0")
    git(world.fork, "fetch", "-q", "origin")

    assert_refused(world, cli, ("rebase", "0.13.0"), "origin/ellm-0.12.0 has 1 commit(s) that the local",
                   fix[:7], "Colleague's fix", "pull --ff-only origin ellm-0.12.0")
    # leaving unlisted commits out does not cover commits this copy has never seen
    assert_refused(world, cli, ("rebase", "0.13.0", "--drop-unlisted"), "Colleague's fix")

    git(world.fork, "pull", "-q", "--ff-only", "origin", "ellm-0.12.0")
    assert_refused(world, cli, ("rebase", "0.13.0"), fix[:12], "ellm-release patch add")


# --------------------------------------------------------------------------------------- patch add


def test_patch_add_places_the_commit_in_branch_order_and_the_rebase_then_replays_it(
        clean_world: World, cli: Cli) -> None:
    world = clean_world
    hotfix = hotfix_mid_branch(world, after_patch="nvidia-resource-key-mixed")
    before = world.manifest_path.read_text(encoding="utf-8")
    status = cli(world, "status")
    assert status.code == 1 and f"fix: ellm-release patch add {hotfix[:12]}" in status.text

    added = cli(world, "patch", "add", hotfix[:7], json_output=True)

    assert added.code == 0, added.text
    assert added.json()["added"] == [{"commit": hotfix, "subject": HOTFIX, "new_patch": True,
                                      "patch_id": "k8s-hotfix-keep-pods-on-their-node"}]
    after = world.manifest_path.read_text(encoding="utf-8")
    ids = [p.id for p in load_manifest(world.manifest_path).patches]
    assert ids == ["dual-gpu-api-server", "amd-gpu-autodetect", "nvidia-resource-key-mixed",
                   "k8s-hotfix-keep-pods-on-their-node", "serve-controller-capacity", "uv-pip-python-pin"]
    new = load_manifest(world.manifest_path).patch("k8s-hotfix-keep-pods-on-their-node")
    assert new.title == HOTFIX and new.commits == (hotfix,) and new.status == "carry"
    # every line that was there is still there, in the same order, the comment still above its patch
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    assert [line for line in diff[2:] if not line.startswith(("+", "@@"))] == []
    assert "  # kept: a comment above a patch\n  - id: serve-controller-capacity" in after
    assert cli(world, "status").code == 0
    # the README's patch table is stale now, and the command said how to regenerate it
    assert added.json()["next"].startswith("ellm-release readme")
    assert cli(world, "readme", "--check").code == 1
    assert cli(world, "readme").code == 0 and cli(world, "readme", "--check").code == 0

    done = cli(world, "rebase", "0.13.0", json_output=True)
    assert done.code == 0, done.err
    assert hotfix in picked_from(world.fork, "v0.13.0..ellm-0.13.0")


def test_patch_add_into_an_existing_patch(clean_world: World, cli: Cli) -> None:
    world = clean_world
    hotfix = add_hotfix(world)

    added = cli(world, "patch", "add", hotfix, "--into", "uv-pip-python-pin")

    assert added.code == 0, added.text
    manifest = load_manifest(world.manifest_path)
    assert manifest.patch("uv-pip-python-pin").commits == (world.marks["uv-pin"], hotfix)
    assert len(manifest.patches) == len(world.patches)
    assert cli(world, "status").code == 0


def test_patch_add_into_a_dropped_patch_is_refused(world: World, cli: Cli) -> None:
    hotfix = add_hotfix(world)
    patches = [PatchSpec(p.id, p.title, p.description, p.commits,
                         "dropped" if p.id == "serve-controller-capacity" else p.status) for p in world.patches]
    world.write_manifest("0.12.0", world.base, patches=patches)
    before = world.manifest_path.read_bytes()

    result = cli(world, "patch", "add", hotfix, "--into", "serve-controller-capacity")

    assert result.code == 2, result.text
    assert "is marked dropped" in result.err and f"ellm-release patch add {hotfix[:12]}" in result.err
    assert world.manifest_path.read_bytes() == before


def test_patch_add_dry_run_changes_nothing(clean_world: World, cli: Cli) -> None:
    world = clean_world
    hotfix = add_hotfix(world)
    before = world.manifest_path.read_bytes()

    result = cli(world, "--dry-run", "patch", "add", hotfix, json_output=True)

    assert result.code == 0, result.text
    assert result.json()["added"][0]["patch_id"] == "k8s-hotfix-keep-pods-on-their-node"
    assert world.manifest_path.read_bytes() == before


def test_patch_add_refusals_change_nothing(clean_world: World, cli: Cli) -> None:
    world = clean_world
    hotfix = add_hotfix(world)
    elsewhere = git(world.fork, "rev-parse", "v0.13.0^{commit}")
    before = world.manifest_path.read_bytes()
    cases = [
        (("patch", "add", "nosuchcommit"), "'nosuchcommit' does not name a commit"),
        (("patch", "add", world.marks["uv-pin"]), "is already listed by the patch uv-pip-python-pin"),
        (("patch", "add", elsewhere), f"{elsewhere[:12]} is not on ellm-0.12.0"),
        (("patch", "add", hotfix, "--into", "no-such-patch"), "the manifest has no patch 'no-such-patch'"),
        (("patch", "add", world.marks["fork-readme"]), "only touches README.md"),
    ]
    for args, needle in cases:
        result = cli(world, *args)
        assert result.code == 2, (args, result.text)
        assert needle in result.err and "Traceback" not in result.text
        assert world.manifest_path.read_bytes() == before


def test_patch_add_refuses_during_a_rebase(world: World, cli: Cli) -> None:
    hotfix = add_hotfix(world)
    assert cli(world, "rebase", "0.13.0", "--drop-unlisted").code == 3
    result = cli(world, "patch", "add", hotfix)
    assert result.code == 2 and "a rebase to 0.13.0 is in progress" in result.err, result.err


# ---------------------------------------------------------------------------------------- drop them


def test_drop_unlisted_leaves_them_out_and_says_so_in_summary_report_and_pr_body(
        clean_world: World, cli: Cli) -> None:
    world = clean_world
    hotfix = add_hotfix(world)

    done = cli(world, "rebase", "0.13.0", "--drop-unlisted", json_output=True)

    assert done.code == 0, done.err
    assert done.json()["dropped_unlisted"] == [{"commit": hotfix, "subject": HOTFIX}]
    assert f"dropped (--drop-unlisted): {hotfix[:12]} {HOTFIX}" in done.err
    assert hotfix not in picked_from(world.fork, "v0.13.0..ellm-0.13.0")
    saved = json.loads(last_summary_file(world).read_text(encoding="utf-8"))
    assert saved["dropped_unlisted"] == [{"commit": hotfix, "subject": HOTFIX}]
    report = cli(world, "report", "--format", "md")
    assert report.code == 0, report.err
    assert f"- `{hotfix[:12]}` {md_text(HOTFIX)}" in report.out and "--drop-unlisted" in report.out
    pr = cli(world, "--dry-run", "--json", "pr", "--repo-slug", "o/n")
    assert pr.code == 0, pr.err
    assert json.dumps(f"`{hotfix[:12]}` {md_text(HOTFIX)}")[1:-1] in pr.out  # the body, inside the JSON


# ------------------------------------------------------------------------------------- patch sort


def test_status_offers_patch_sort_and_patch_sort_fixes_the_order_keeping_comments(world: World, cli: Cli) -> None:
    swapped = list(world.patches)
    swapped[0], swapped[2] = swapped[2], swapped[0]
    world.write_manifest("0.12.0", world.base, patches=swapped)
    text = world.manifest_path.read_text(encoding="utf-8").replace(
        "  - id: dual-gpu-api-server", "  # about dual-gpu\n  - id: dual-gpu-api-server")
    world.manifest_path.write_text(text, encoding="utf-8")
    status = cli(world, "status")
    assert status.code == 1 and "fix: ellm-release patch sort" in status.text
    assert cli(world, "--dry-run", "patch", "sort").code == 0
    assert world.manifest_path.read_text(encoding="utf-8") == text

    result = cli(world, "patch", "sort", json_output=True)

    assert result.code == 0, result.text
    assert result.json()["moved"] is True
    after = world.manifest_path.read_text(encoding="utf-8")
    assert [p.id for p in load_manifest(world.manifest_path).patches] == [p.id for p in world.patches]
    assert "  # about dual-gpu\n  - id: dual-gpu-api-server" in after
    assert sorted(after.splitlines()) == sorted(text.splitlines())
    assert cli(world, "status").code == 0
    again = cli(world, "patch", "sort", json_output=True)
    assert again.code == 0 and again.json()["moved"] is False


def test_patch_sort_reorders_the_commits_inside_a_patch(world: World, cli: Cli) -> None:
    patches = [PatchSpec(p.id, p.title, p.description, list(reversed(p.commits)), p.status) for p in world.patches]
    world.write_manifest("0.12.0", world.base, patches=patches)
    assert cli(world, "status").code == 1

    assert cli(world, "patch", "sort").code == 0

    assert load_manifest(world.manifest_path).patch("amd-gpu-autodetect").commits == tuple(
        world.patches[1].commits)
    assert cli(world, "status").code == 0


# ---------------------------------------------------------------------------------------- dry runs


def test_a_dry_run_leaves_the_last_real_summary_alone(make_world: WorldFactory, cli: Cli) -> None:
    world = make_world(conflict=False, upstreamed=False)
    assert cli(world, "rebase", "0.13.0").code == 0
    saved = last_summary_file(world).read_bytes()
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    git(world.fork, "branch", "-q", "-D", "ellm-0.13.0")
    world.write_manifest("0.12.0", world.base)
    before = snapshot(world.fork)

    rehearsal = cli(world, "--dry-run", "rebase", "0.13.0", json_output=True)

    assert rehearsal.code == 0, rehearsal.err
    assert rehearsal.json()["state"] == "dry-run"
    assert last_summary_file(world).read_bytes() == saved
    assert snapshot(world.fork) == before
    assert not state_file(world).exists()


def test_manifest_yaml_of_an_added_patch_loads_as_written(clean_world: World, cli: Cli) -> None:
    world = clean_world
    sha = commit_files(world.fork, {"sky/q.py": "Q = 1\n"}, 'Quote "this" # not a comment: <b>')
    assert cli(world, "patch", "add", sha).code == 0
    data = yaml.safe_load(world.manifest_path.read_text(encoding="utf-8"))
    assert data["patches"][-1]["title"] == 'Quote "this" # not a comment: <b>'
    assert "&lt;b&gt;" in data["patches"][-1]["description"]


def test_patch_sort_refuses_interleaved_patches(world: World, cli: Cli) -> None:
    # amd-gpu-autodetect's two commits with nvidia's commit between them, as one patch and another
    patches = list(world.patches)
    amd, nvidia = patches[1], patches[2]
    patches[1] = PatchSpec(amd.id, amd.title, amd.description, [amd.commits[0], nvidia.commits[0]])
    patches[2] = PatchSpec(nvidia.id, nvidia.title, nvidia.description, [amd.commits[1]])
    world.write_manifest("0.12.0", world.base, patches=patches)
    before = world.manifest_path.read_bytes()

    result = cli(world, "patch", "sort")

    assert result.code == 2, result.text
    assert "interleaved" in result.err
    assert world.manifest_path.read_bytes() == before
