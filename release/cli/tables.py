"""Terminal tables: where Rich styles meet the areas' results. Only the command line draws them; the
areas hand over plain data (and plain text, never Rich markup)."""

from __future__ import annotations

from release.cli.output import Styled
from release.rebase.summary import Outcome, RebaseSummary

OUTCOME_STYLES = {Outcome.CLEAN: "green", Outcome.CHANGED: "yellow", Outcome.CONFLICT: "red bold",
                  Outcome.UPSTREAMED: "cyan", Outcome.SKIPPED: "magenta", Outcome.DROPPED: "dim",
                  Outcome.PENDING: "dim"}


def rebase_table(summary: RebaseSummary, width: int = 150) -> Styled:
    """The rebase summary as a table no wider than `width`: each patch's outcome, old and new SHAs,
    files. Drawn here as one styled text rather than by Rich's table layout, which takes a few
    hundredths of a second for the forty rows of a large replay (the end of every rebase waits
    for it), and which a log, where no colour shows, need not load at all; long cells wrap,
    nothing is cut."""
    rows = [[[str(i)], [p.id], [p.outcome.value, *p.merged_upstream.splitlines()],
             [" ".join(_short(c.old) for c in p.commits)],
             [" ".join(_short(sha) for c in p.commits for sha in c.news) or "-"],
             list(p.files) or ["-"]] for i, p in enumerate(summary.patches, 1)]
    columns = zip([[heading] for heading in HEADER], *rows, strict=True)
    natural = [max(len(line) for cell in column for line in cell) for column in columns]
    widths = _fit(natural, width - 3 * len(HEADER) - 1)
    table = Styled()
    inner = sum(widths) + 3 * len(widths) - 1
    table.append(f"{summary.branch} on {summary.base_ref} ({summary.state})".center(inner + 2).rstrip() + "\n",
                 style="italic")
    table.append(_rule("┏", "━", "┳", "┓", widths))
    _append_row(table, [[h] for h in HEADER], widths, "┃", {column: "bold" for column in range(len(HEADER))})
    table.append(_rule("┡", "━", "╇", "┩", widths))
    for cells, patch in zip(rows, summary.patches, strict=True):
        # the outcome in its colour; under it, the pull request that merged the patch upstream
        _append_row(table, cells, widths, "│", {2: OUTCOME_STYLES[patch.outcome]}, {2: "cyan"})
    table.append(_rule("└", "─", "┴", "┘", widths).rstrip("\n"))
    return table


HEADER = ("#", "patch", "outcome", "old", "new", "files")


def _fit(natural: list[int], room: int) -> list[int]:
    """Column widths within `room`: the widest column gives way first (a heading wraps too, when
    the terminal is that narrow)."""
    widths = list(natural)
    while sum(widths) > room and max(widths) > 1:
        widths[widths.index(max(widths))] -= 1
    return widths


def _wrapped(lines: list[str], width: int) -> list[str]:
    import textwrap

    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, width, break_on_hyphens=False) if len(line) > width else [line]
    return out or [""]


def _rule(left: str, fill: str, joint: str, right: str, widths: list[int]) -> str:
    return left + joint.join(fill * (w + 2) for w in widths) + right + "\n"


def _append_row(table: Styled, cells: list[list[str]], widths: list[int], bar: str, first_line: dict[int, str],
                later_lines: dict[int, str] | None = None) -> None:
    """One row, its cells wrapped to their columns; `first_line` and `later_lines` style a column's
    first line and the lines under it."""
    wrapped = [_wrapped(cell, w) for cell, w in zip(cells, widths, strict=True)]
    for line in range(max(len(cell) for cell in wrapped)):
        table.append(bar)
        for column, (cell, w) in enumerate(zip(wrapped, widths, strict=True)):
            text = cell[line] if line < len(cell) else ""
            table.append(" ")
            styles = first_line if line == 0 else (later_lines or first_line)
            table.append(text, style=styles.get(column, ""))
            table.append(" " * (w - len(text) + 1) + bar)
        table.append("\n")


def _short(sha: str | None) -> str:
    return sha[:7] if sha else "-"
