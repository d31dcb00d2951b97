"""Pure logic of the release core, on plain data: planning and classification (release.rebase.plan), the
drift comparison (release.rebase.drift.compare), release tags (release.rebase.upstream) and versions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from release.manifest.model import ImageSpec, Manifest, Patch
from release.manifest.versions import InvalidVersion, image_tag_version, is_prerelease, parse_version, version_from_tag
from release.rebase.drift import compare
from release.rebase.plan import (
    Step,
    make_plan,
    new_commits_by_patch,
    new_statuses,
    patch_outcome,
    summarize_patches,
)
from release.rebase.summary import CommitResult, Outcome
from release.rebase.upstream import parse_ls_remote_tags


def sha(n: int) -> str:
    return f"{n:040x}"


def make_manifest(*patches: Patch) -> Manifest:
    return Manifest(
        path=Path("patches/manifest.yaml"), upstream_repo="u/u", upstream_url=None, upstream_remote="upstream",
        version="0.12.0", base=sha(999), fork_repo="f/f", fork_url=None, fork_remote="origin",
        fork_master="master", branch_pattern="ellm-{version}",
        image=ImageSpec("ghcr.io/f/f", "v{version}", "v{version}-dev"), chart_name="c/c", chart_repo_name="c",
        chart_repo_url=None, patches=patches,
    )


A = Patch("a", "Patch A", "A.", (sha(1),))
B = Patch("b", "Patch B", "B.", (sha(2), sha(3)))
C = Patch("c", "Patch C", "C.", (sha(4),))
GONE = Patch("gone", "Patch gone", "Merged.", (sha(5),), status="upstreamed")
MANIFEST = make_manifest(A, B, C, GONE)
FILES = {sha(1): ["sky/a.py"], sha(2): ["sky/b.py", "README.md"], sha(3): ["sky/b2.py"], sha(4): ["sky/c.py"],
         sha(5): ["sky/gone.py"]}


# ---------------------------------------------------------------------------------------------- plan


def test_plan_orders_carried_commits_as_the_manifest_does() -> None:
    plan = make_plan(MANIFEST, FILES, {}, set())
    assert plan.steps == (Step("a", sha(1)), Step("b", sha(2)), Step("b", sha(3)), Step("c", sha(4)))
    assert plan.upstreamed == {}
    assert plan.readme_only == ()


def test_plan_leaves_out_patch_ids_upstream_has() -> None:
    plan = make_plan(MANIFEST, FILES, {sha(1): "pid-1", sha(3): "pid-3", sha(4): "pid-4"}, {"pid-3", "pid-x"})
    assert [s.commit for s in plan.steps] == [sha(1), sha(2), sha(4)]
    assert list(plan.upstreamed) == [sha(3)]


def test_plan_leaves_out_readme_only_commits() -> None:
    files = {**FILES, sha(4): ["README.md"]}
    plan = make_plan(MANIFEST, files, {}, set())
    assert plan.readme_only == (sha(4),)
    assert sha(4) not in [s.commit for s in plan.steps]


def test_plan_keeps_a_commit_whose_files_are_unknown() -> None:
    plan = make_plan(MANIFEST, {}, {}, set())
    assert len(plan.steps) == 4


@pytest.mark.parametrize(("outcomes", "changed", "expected"), [
    ([], False, Outcome.UPSTREAMED),
    ([Outcome.CLEAN, Outcome.CLEAN], False, Outcome.CLEAN),
    ([Outcome.CLEAN, Outcome.CLEAN], True, Outcome.CHANGED),
    ([Outcome.CLEAN, Outcome.CHANGED], False, Outcome.CHANGED),
    ([Outcome.CLEAN, Outcome.UPSTREAMED], False, Outcome.CHANGED),
    ([Outcome.UPSTREAMED, Outcome.UPSTREAMED], False, Outcome.UPSTREAMED),
    ([Outcome.SKIPPED], False, Outcome.SKIPPED),
    ([Outcome.SKIPPED, Outcome.UPSTREAMED], False, Outcome.SKIPPED),
    ([Outcome.CLEAN, Outcome.SKIPPED], False, Outcome.CHANGED),
    ([Outcome.CLEAN, Outcome.CONFLICT], False, Outcome.CONFLICT),
    ([Outcome.CLEAN, Outcome.PENDING], False, Outcome.PENDING),
])
def test_patch_outcome(outcomes: list[Outcome], changed: bool, expected: Outcome) -> None:
    commits = [CommitResult(sha(i), sha(100 + i), o) for i, o in enumerate(outcomes)]
    assert patch_outcome(commits, changed) == expected


def results_for(*items: tuple[str, str | None, Outcome]) -> dict[str, CommitResult]:
    return {old: CommitResult(old, new, outcome) for old, new, outcome in items}


def test_summary_rows_statuses_and_new_commits() -> None:
    results = results_for((sha(1), sha(11), Outcome.CLEAN), (sha(2), sha(12), Outcome.CLEAN),
                          (sha(3), None, Outcome.UPSTREAMED), (sha(4), None, Outcome.SKIPPED))
    new_files = {sha(11): ["sky/a.py"], sha(12): ["sky/b.py", "README.md"]}

    rows = summarize_patches(MANIFEST, results, new_files, {"b": "range-diff of b"}, {"c": "skipped by hand"})

    assert [(r.id, r.outcome) for r in rows] == [("a", Outcome.CLEAN), ("b", Outcome.CHANGED),
                                                 ("c", Outcome.SKIPPED), ("gone", Outcome.DROPPED)]
    by_id = {r.id: r for r in rows}
    assert by_id["b"].files == ("sky/b.py",)  # README.md is never a patch file
    assert by_id["b"].range_diff == "range-diff of b"
    assert by_id["b"].new_commits == (sha(12),)
    assert by_id["c"].note == "skipped by hand"
    assert "status upstreamed" in by_id["gone"].note

    assert new_statuses(MANIFEST, rows) == {"c": "dropped"}
    assert new_commits_by_patch(MANIFEST, results) == {"a": [sha(11)], "b": [sha(12)]}


def test_fully_upstreamed_patch_becomes_upstreamed() -> None:
    results = results_for((sha(1), None, Outcome.UPSTREAMED))
    rows = summarize_patches(make_manifest(A), results, {}, {}, {})
    assert rows[0].outcome == Outcome.UPSTREAMED
    assert new_statuses(make_manifest(A), rows) == {"a": "upstreamed"}
    assert new_commits_by_patch(make_manifest(A), results) == {}


# ------------------------------------------------------------------------------------- drift.compare


def test_compare_in_sync() -> None:
    assert compare(MANIFEST, [sha(1), sha(2), sha(3), sha(4)], {}) == []


def test_compare_reports_unlisted_commits_with_their_subject() -> None:
    findings = compare(MANIFEST, [sha(1), sha(2), sha(77), sha(3), sha(4)], {sha(77): "Hotfix"})
    assert [(f.kind, f.commit) for f in findings] == [("unlisted", sha(77))]
    assert "'Hotfix'" in findings[0].message


def test_compare_reports_missing_commits() -> None:
    findings = compare(MANIFEST, [sha(1), sha(2), sha(4)], {})
    assert [(f.kind, f.commit, f.patch_id) for f in findings] == [("missing", sha(3), "b")]


def test_compare_reports_the_first_out_of_order_position() -> None:
    findings = compare(MANIFEST, [sha(1), sha(4), sha(2), sha(3)], {})
    assert [f.kind for f in findings] == ["order"]
    assert "position 2" in findings[0].message
    assert findings[0].commit == sha(4)


def test_compare_reports_a_not_carried_patch_still_on_the_branch() -> None:
    findings = compare(MANIFEST, [sha(1), sha(2), sha(3), sha(4), sha(5)], {})
    assert [(f.kind, f.patch_id) for f in findings] == [("not-carried", "gone")]


def test_compare_reports_everything_at_once() -> None:
    manifest = replace(MANIFEST, patches=(A, B, C))
    findings = compare(manifest, [sha(4), sha(9), sha(1)], {})
    assert sorted(f.kind for f in findings) == ["missing", "missing", "order", "unlisted"]


# ----------------------------------------------------------------------------------- upstream tags


LS_REMOTE = f"""\
{sha(10)}\trefs/tags/v0.12.0
{sha(11)}\trefs/tags/v0.12.0^{{}}
{sha(20)}\trefs/tags/v0.13.0rc1
{sha(21)}\trefs/tags/v0.13.0rc1^{{}}
{sha(30)}\trefs/tags/v0.13.0
{sha(31)}\trefs/tags/v0.13.0^{{}}
{sha(40)}\trefs/tags/v0.9.10
{sha(50)}\trefs/tags/nightly-2024
{sha(60)}\trefs/tags/v1.0
{sha(70)}\trefs/tags/0.14.0

"""


def test_parse_ls_remote_tags_keeps_release_tags_sorted_by_version_with_peeled_commits() -> None:
    tags = parse_ls_remote_tags(LS_REMOTE)
    assert [(t.version, t.tag, t.sha) for t in tags] == [
        ("0.9.10", "v0.9.10", sha(40)),  # lightweight tag: its own SHA is the commit
        ("0.12.0", "v0.12.0", sha(11)),
        ("0.13.0rc1", "v0.13.0rc1", sha(21)),
        ("0.13.0", "v0.13.0", sha(31)),
    ]
    assert [t.prerelease for t in tags] == [False, False, True, False]


def test_parse_ls_remote_tags_of_nothing() -> None:
    assert parse_ls_remote_tags("") == []


# ------------------------------------------------------------------------------------------ versions


@pytest.mark.parametrize("text", ["0.12.0", "0.13.0rc1", "1.0.0a2", "10.20.30b4"])
def test_valid_versions(text: str) -> None:
    assert str(parse_version(text)) == text


@pytest.mark.parametrize("text", ["v0.13.0", "0.13", "latest", "0.13.0.1", " 0.13.0", "0.13.0-rc1", "", "0.13.0rc"])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(InvalidVersion, match="is not a release version"):
        parse_version(text)


def test_version_ordering_and_prereleases() -> None:
    assert parse_version("0.13.0rc1") < parse_version("0.13.0") < parse_version("0.13.1") < parse_version("0.100.0")
    assert is_prerelease("0.14.0rc1")
    assert not is_prerelease("0.14.0")


@pytest.mark.parametrize(("tag", "expected"), [
    ("v0.13.0", "0.13.0"), ("v0.14.0rc1", "0.14.0rc1"), ("0.13.0", None), ("vlatest", None),
    ("releases/0.13.0", None),
])
def test_version_from_tag(tag: str, expected: str | None) -> None:
    assert version_from_tag(tag) == expected


@pytest.mark.parametrize(("tag", "expected"), [
    ("v0.13.0", ("0.13.0", False)), ("v0.13.0-dev", ("0.13.0", True)), ("v0.13.0rc1-dev", ("0.13.0rc1", True)),
    ("latest", None), ("v-dev", None), ("0.13.0", None),
])
def test_image_tag_version(tag: str, expected: tuple[str, bool] | None) -> None:
    assert image_tag_version(tag) == expected
