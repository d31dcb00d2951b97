"""Sections `report` adds after the rebase summary: what other read-only commands saved in the
state dir (the upstream changes preview, the last `verify`), so the nightly's one report shows all."""

from __future__ import annotations

from pathlib import Path


def extra_sections(manifest_path: Path, version: str) -> list[str]:
    """Markdown sections saved for this version, in a fixed order."""
    from release.assist import verify
    from release.rebase import changes, forecast
    from release.records import state_dir

    sections: list[str] = []
    preview = changes.load_preview(manifest_path)
    if preview is not None and preview.version == version:
        sections.append(changes.render_markdown(preview))
    ahead = forecast.load(state_dir(manifest_path))
    if ahead is not None:
        sections.append(forecast.render_markdown(ahead))
    checked = verify.load_report(state_dir(manifest_path))
    if checked is not None:  # the chain as it stands, whichever version it was run for
        sections.append(verify.render_markdown(checked))
    return sections
