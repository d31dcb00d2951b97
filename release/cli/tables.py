"""Terminal tables: where Rich styles meet the areas' results. Only the command line draws them; the
areas hand over plain data (and plain text, never Rich markup)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from release.rebase.summary import Outcome, RebaseSummary

if TYPE_CHECKING:  # Rich is imported when a table is drawn, not when the command starts
    from rich.table import Table
    from rich.text import Text

OUTCOME_STYLES = {Outcome.CLEAN: "green", Outcome.CHANGED: "yellow", Outcome.CONFLICT: "red bold",
                  Outcome.UPSTREAMED: "cyan", Outcome.SKIPPED: "magenta", Outcome.DROPPED: "dim",
                  Outcome.PENDING: "dim"}


def rebase_table(summary: RebaseSummary) -> Table:
    """The rebase summary as a table: each patch's outcome, old and new SHAs, files."""
    from rich.table import Table

    table = Table(title=f"{summary.branch} on {summary.base_ref} ({summary.state})")
    for col in ("#", "patch", "outcome", "old", "new", "files"):
        table.add_column(col)
    for i, p in enumerate(summary.patches, 1):
        table.add_row(
            str(i), p.id, _outcome_cell(p.outcome, p.merged_upstream),
            " ".join(_short(c.old) for c in p.commits),
            " ".join(_short(sha) for c in p.commits for sha in c.news) or "-",
            "\n".join(p.files) or "-",
        )
    return table


def _short(sha: str | None) -> str:
    return sha[:7] if sha else "-"


def _outcome_cell(outcome: Outcome, merged_upstream: str) -> Text:
    """The outcome, coloured, and under it the upstream pull request that merged the patch, if any.
    Rich Text, not markup: both come from git and GitHub and may hold brackets."""
    from rich.text import Text

    cell = Text(outcome.value, style=OUTCOME_STYLES[outcome])
    if merged_upstream:
        cell.append("\n" + merged_upstream, style="cyan")
    return cell
