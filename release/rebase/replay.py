"""The replay state machine: prepare -> pick -> (conflict -> continue | skip | abort) -> finish.

Its phases, one module each:

- `state`: the replay state saved in the fork's git dir before and after every pick, so a run
  killed at any moment (even with SIGKILL) can be continued or aborted;
- `prepare`: every refusal, before anything changes, and the plan;
- `pick`: the branch at the base and the cherry-picks, up to the end or a conflict;
- `resume`: continue, skip and abort, after a stop or a kill;
- `finish`: the README commit, the manifest update, the summary and the push;
- `rehearse`: the whole replay in a throw-away clone (`--dry-run`).

The lock next to the state (release.repo.repolock) keeps two runs off one repository. This module
is what the commands call.
"""

from release.rebase.finish import load_summary, original_manifest
from release.rebase.pick import ConflictStopWithSummary, start
from release.rebase.prepare import RebaseRequest, already_rebased, prepare
from release.rebase.rehearse import dry_run
from release.rebase.resume import abort, resume, skip
from release.rebase.state import SCHEMA, ReplayState, load_state, save_state

__all__ = ["SCHEMA", "ConflictStopWithSummary", "RebaseRequest", "ReplayState", "abort", "already_rebased", "dry_run",
           "load_state", "load_summary", "original_manifest", "prepare", "resume", "save_state", "skip", "start"]
