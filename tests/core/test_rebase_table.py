"""The rebase summary table: every patch, SHA and file shown, within the terminal's width, whatever
the width; wrapped cells lose nothing."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from release.cli.tables import rebase_table
from release.rebase.summary import CommitResult, Outcome, PatchResult, RebaseSummary, SummaryState


def _summary() -> RebaseSummary:
    long_path = "sky/provision/kubernetes/a_rather_long_module_name_for_gpu_labels.py"
    patches = (
        PatchResult("amd-gpu-labels", "AMD labels", Outcome.CLEAN,
                    (CommitResult("1" * 40, "a" * 40, Outcome.CLEAN), CommitResult("2" * 40, "b" * 40, Outcome.CLEAN)),
                    (long_path, "sky/utils.py")),
        PatchResult("mixed-cluster [k8s]", "Mixed", Outcome.CONFLICT, (CommitResult("3" * 40, None, Outcome.CONFLICT),),
                    (), merged_upstream="merged upstream as 4444444 (PR #1234)"),
    )
    return RebaseSummary(version="0.13.0", branch="ellm-0.13.0", base="5" * 40, base_ref="v0.13.0",
                         previous_version="0.12.0", previous_base="6" * 40, state=SummaryState.CONFLICT,
                         patches=patches)


def _drawn(width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, markup=False)
    console.print(rebase_table(_summary(), console.width))
    return out.getvalue()


@pytest.mark.parametrize("width", [150, 80, 50])
def test_every_cell_is_shown_within_the_width(width: int) -> None:
    drawn = _drawn(width)
    lines = drawn.splitlines()
    assert all(len(line) <= width for line in lines), drawn
    # read the cells back column by column: a wrapped cell's lines join up to its whole text
    rows = [line.split("│")[1:-1] for line in lines if line.startswith("│")]
    columns = ["".join(row[k].replace(" ", "") for row in rows) for k in range(6)]
    expected = [("amd-gpu-labels", "mixed-cluster[k8s]"), ("clean", "conflict", "mergedupstreamas4444444(PR#1234)"),
                ("1111111", "2222222", "3333333"), ("aaaaaaa", "bbbbbbb"),
                ("sky/provision/kubernetes/a_rather_long_module_name_for_gpu_labels.py", "sky/utils.py")]
    for column, texts in zip(columns[1:], expected, strict=True):
        for text in texts:
            assert text in column, (text, drawn)
    assert "ellm-0.13.0 on v0.13.0 (conflict)" in drawn


def test_the_head_and_rules_line_up() -> None:
    lines = _drawn(150).splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert len({len(line) for line in table}) == 1  # every line of the box is as wide as the others
    assert table[0].startswith("┏") and table[-1].startswith("└")
    assert [cell.strip() for cell in table[1].split("┃")[1:-1]] == ["#", "patch", "outcome", "old", "new", "files"]


def test_outcomes_keep_their_colours_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system="standard", highlight=False, markup=False)
    console.print(rebase_table(_summary(), console.width))
    drawn = out.getvalue()
    assert "\x1b[32mclean" in drawn  # green
    assert "\x1b[1;31mconflict" in drawn  # red, bold
