"""The git gateway: the only place that runs git (with `githistory`, `gitworktree` and `gitwrite`,
its parts by reason to change). The rest of the tool asks named questions here and never spawns
git itself, so how git is asked (how many processes, which ones) can change in one place.

This part opens repositories, turns git's failures into sentences, refuses unsafe states, and
answers questions about refs and commits. The handle is `gitproc.Repo`, which runs git as plain
processes; outside the gateway only its `working_dir` is read.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from release.background import Pending
from release.errors import Failed, Refused
from release.repo.gitproc import GitCommandError, NotARepository, Remote, Repo, Started

README = "README.md"

# What a git command that failed raises: the runner's error, or a checked subprocess's.
GIT_ERRORS = (GitCommandError, subprocess.CalledProcessError)


def open_repo(path: Path) -> Repo:
    try:
        return Repo(path)
    except NotARepository:
        raise Refused(
            f"{path} is not a git working copy of the fork",
            hints=["clone the fork there (see skypilot/README.md) or point --repo at it"],
        ) from None


def failure_reason(exc: GitCommandError) -> str:
    """What git said when it failed, in one line: its first `fatal:`/`error:` line (the lines after
    it are generic advice), without the `stderr: '...'` wrapping some callers' errors carry."""
    text = str(exc.stderr or "").strip()
    if text.startswith("stderr: '") and text.endswith("'"):
        text = text[len("stderr: '"):-1]
    said = [line.strip() for line in text.splitlines() if line.strip()]
    return next((line for line in said if line.startswith(("fatal:", "error:"))), said[-1] if said else "")


REJECTED = re.compile(r"^\s*! \[(?:remote )?rejected\].*\((?P<why>[^)]*)\)\s*$")


def push_refusal(exc: GitCommandError) -> str:
    """Why a push was refused, in git's and the hook's own words: the server's `remote:` lines (a
    pre-receive hook's reason), the `! [remote rejected] ... (reason)` line, or what a local
    pre-push hook printed; the generic "failed to push some refs" line only when there is nothing
    else."""
    text = str(exc.stderr or "").strip()
    if text.startswith("stderr: '") and text.endswith("'"):
        text = text[len("stderr: '"):-1]
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    remote = [line.removeprefix("remote:").strip() for line in lines if line.startswith("remote:")]
    remote = [line for line in remote if line]
    rejected = [m["why"] for m in map(REJECTED.match, lines) if m]
    hook = [line.strip() for line in lines if not line.startswith(("remote:", "To ", "error:", "hint:", " ! ", "!"))]
    said = remote or hook
    parts = ([" / ".join(said[-5:])] if said else []) + [f"({why})" for why in rejected]
    return " ".join(parts) or failure_reason(exc)


def as_repo(repo: Repo | str | Path) -> Repo:
    return repo if isinstance(repo, Repo) else Repo(repo)


def try_open(path: Path) -> Repo | None:
    """The repository at `path`, or None when there is none (the caller refuses later, itself)."""
    try:
        return Repo(path)
    except NotARepository:
        return None


def unexpected_failure(exc: BaseException) -> str | None:
    """For a git command the tool did not expect to fail: which one and what git said; None when
    `exc` is no git failure."""
    if not isinstance(exc, GitCommandError):
        return None
    command = " ".join(str(a) for a in exc.command[:3]) if isinstance(exc.command, list) else str(exc.command)
    return f"`{command}` failed (exit {exc.status}): {failure_reason(exc) or 'no message'}"


def git_dir(repo: Repo) -> Path:
    # read from the files git keeps when the repository is opened (a linked worktree's own git dir
    # included): no process needed
    return Path(repo.git_dir).resolve()


def common_dir(repo: Repo) -> Path:
    """The git dir all worktrees of the clone share (where refs, objects and rr-cache live)."""
    return Path(repo.common_dir).resolve()


def git_c(repo: Repo) -> str:
    """`git -C <working copy>` for a hint, quoted for a shell (paths may hold spaces)."""
    return f"git -C {shlex.quote(str(repo.working_dir))}"


def require_remote(repo: Repo, name: str) -> Remote:
    if name not in [r.name for r in repo.remotes]:
        raise Refused(f"the remote {name!r} is not configured in {repo.working_dir}",
                      hints=[f"git -C {shlex.quote(str(repo.working_dir))} remote add {name} <url>"])
    return repo.remote(name)


# What git leaves in a worktree's git dir while one of its own multi-step commands is unfinished,
# and how to finish or leave it.
GIT_OPERATIONS = (
    ("rebase-merge", "git rebase", "git rebase --continue | --abort"),
    ("rebase-apply", "git rebase or git am", "git rebase --continue | --abort (or git am --continue | --abort)"),
    ("MERGE_HEAD", "git merge", "git merge --continue | --abort"),
    ("CHERRY_PICK_HEAD", "git cherry-pick", "git cherry-pick --continue | --abort"),
    ("REVERT_HEAD", "git revert", "git revert --continue | --abort"),
    ("BISECT_LOG", "git bisect", "git bisect reset"),
)


def require_no_git_operation(repo: Repo) -> None:
    """Refuse while git's own rebase, merge, cherry-pick, revert or bisect is unfinished: moving HEAD
    under it would leave git's plan pointing at the new branch (a later `git rebase --continue`
    would rewrite the branch the maintainer started from)."""
    where = git_dir(repo)
    for marker, command, finish in GIT_OPERATIONS:
        if (where / marker).exists():
            raise Refused(f"{command} is in progress in {repo.working_dir}; finish or abort it first",
                          hints=[f"{git_c(repo)} status   # where it stands", f"then: {finish}"])


UNCOMMITTED = ["status", "--porcelain", "--untracked-files=normal"]


def uncommitted(repo: Repo) -> str:
    """`git status --porcelain`: one line per staged, unstaged or untracked change."""
    return str(repo.git.run(UNCOMMITTED))


def start_uncommitted(repo: Repo) -> Started:
    """`uncommitted`, asked now and read later: git reads every file whose stat data changed, the
    longest of a rebase's checks, while the caller does other work."""
    return repo.git.start(UNCOMMITTED)


def require_clean(repo: Repo, status: str | None = None) -> None:
    """Refuse when there are staged, unstaged or untracked changes: a replay would mix them in;
    also while one of git's own multi-step commands is unfinished. `status` is `uncommitted`'s
    answer when the caller asked for it already."""
    require_no_git_operation(repo)
    dirty = uncommitted(repo) if status is None else status
    if dirty.strip():
        files = [line[3:] for line in dirty.splitlines()][:5]
        raise Refused(f"the working copy {repo.working_dir} has uncommitted changes ({', '.join(files)})",
                      hints=["commit or stash them first"])


def rev(repo: Repo, ref: str) -> str | None:
    """Full SHA of a commit-ish, or None when it does not exist."""
    try:
        return repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
    except GitCommandError:
        return None


def has_commit(repo: Repo, sha: str) -> bool:
    return rev(repo, sha) is not None


def is_ancestor(repo: Repo, old: str, new: str) -> bool:
    try:
        repo.git.merge_base("--is-ancestor", old, new)
        return True
    except GitCommandError:
        return False


def missing_commits(repo: Repo, shas: Iterable[str]) -> list[str]:
    """The SHAs that do not name a commit here, checked in one git process."""
    wanted = list(shas)
    if not wanted:
        return []
    done = subprocess.run(["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd=repo.working_dir,
                          input="\n".join(wanted) + "\n", capture_output=True, text=True, check=True)
    answers = done.stdout.splitlines()
    return [sha for sha, answer in zip(wanted, answers, strict=True) if not answer.endswith(" commit")]


def require_commits(repo: Repo, shas: Iterable[str], fetch_from: str) -> None:
    """Refuse, before anything changes, when a commit the manifest names is not in this clone."""
    missing = missing_commits(repo, shas)
    if missing:
        raise Refused(f"{len(missing)} commit(s) the manifest names are not in {repo.working_dir}: "
                      + ", ".join(m[:12] for m in missing),
                      hints=[f"git -C {shlex.quote(str(repo.working_dir))} fetch {fetch_from}"])


def merge_commits(repo: Repo, shas: Iterable[str]) -> list[str]:
    """The commits among `shas` that have more than one parent (one git process)."""
    wanted = list(shas)
    if not wanted:
        return []
    out = repo.git.rev_list("--no-walk=unsorted", "--min-parents=2", *wanted)
    merges = {line for line in out.splitlines() if line}
    return [sha for sha in wanted if sha in merges]


def branch_exists(repo: Repo, name: str) -> bool:
    return rev(repo, f"refs/heads/{name}") is not None


def current_branch(repo: Repo) -> str | None:
    return repo.head.branch


def files_touched(repo: Repo, shas: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The paths each commit changes against its first parent (all of them for a root commit; none
    for a merge), README.md included, for many commits in one git process. Renames count as a
    delete and an add, and paths come as git stores them (-z: never C-quoted)."""
    asked = list(dict.fromkeys(shas))
    known = {sha: _FILES_TOUCHED[key] for sha in asked if (key := (repo.common_dir, sha)) in _FILES_TOUCHED}
    wanted = [sha for sha in asked if sha not in known]
    if not wanted:
        return known
    done = subprocess.run(["git", "diff-tree", "--stdin", "-r", "--root", "--no-renames", "--name-only", "-z"],
                          cwd=repo.working_dir, input="\n".join(wanted) + "\n", capture_output=True, text=True,
                          check=True)
    result: dict[str, list[str]] = {sha: [] for sha in wanted}
    current: list[str] | None = None
    pending = set(wanted)
    for field in done.stdout.split("\0"):
        if field in pending:  # each commit's block starts with its own SHA
            pending.discard(field)
            current = result[field]
        elif field and current is not None:
            current.append(field)
    for sha, paths in result.items():
        known[sha] = _FILES_TOUCHED[(repo.common_dir, sha)] = tuple(paths)
    return {sha: known[sha] for sha in asked}


# What a commit changes never changes: answers are kept for the run, so that a question asked ahead
# (while git checks a branch out) is not asked again. Keyed by repository, as a SHA names the same
# commit in any clone but a clone may lack it.
_FILES_TOUCHED: dict[tuple[str, str], tuple[str, ...]] = {}


def remember_files_touched(repo: Repo, files: Mapping[str, tuple[str, ...]]) -> None:
    """`files_touched`'s answers for commits whose files are known without asking git (commits the
    tool built itself as tree edits)."""
    for sha, paths in files.items():
        _FILES_TOUCHED[(repo.common_dir, sha)] = paths


def only_readme(files: Sequence[str]) -> bool:
    return bool(files) and all(f == README for f in files)


def commits_between(repo: Repo, base: str, head: str) -> list[str]:
    """First-parent commits in base..head, oldest first."""
    out = repo.git.rev_list("--reverse", "--first-parent", f"{base}..{head}")
    return [line for line in out.splitlines() if line]


def subject(repo: Repo, sha: str) -> str:
    return repo.git.log("-1", "--format=%s", sha)


def head_sha(repo: Repo) -> str:
    # read from HEAD and the ref files: no git process (a replay asks after every pick)
    return repo.head.commit.hexsha


def patch_ids(repo: Repo, shas: Iterable[str]) -> dict[str, str]:
    """Stable patch-id per commit (commits with an empty diff get none)."""
    shas = list(shas)
    if not shas:
        return {}
    # `git show` of many commits piped into one `git patch-id` keeps this to two processes.
    ids = _patch_ids_of(repo, ["git", "show", "--no-color", "--format=commit %H", *shas])
    out: dict[str, str] = {}
    for line in ids.splitlines():
        pid, sha = line.split()
        out[sha] = pid
    return out


def upstream_patch_ids(repo: Repo, old_base: str, new_base: str, paths: Iterable[str] = ()) -> set[str]:
    """Patch-ids of what upstream added between the old base and the new one. Limiting the log to
    the files our patches touch keeps this fast on a long upstream history; a commit that changes
    other files as well can then still match on the part that concerns us, which is what we want."""
    def log(revs: str) -> list[str]:
        return ["git", "log", "-p", "--no-merges", "--no-color", "--format=commit %H", revs, "--", *paths]

    # OLD..NEW is what NEW has and the old base has not: since their merge base, without asking
    # for it first (a process less on the way)
    try:
        ids = _patch_ids_of(repo, log(f"{old_base}..{new_base}"))
    except subprocess.CalledProcessError:  # the old base is not here: from what history they share, if any
        since = merge_base(repo, old_base, new_base)
        ids = _patch_ids_of(repo, log(f"{since}..{new_base}" if since else new_base))
    return {line.split()[0] for line in ids.splitlines() if line}


def _patch_ids_of(repo: Repo, diffs: list[str]) -> str:
    """`DIFFS | git patch-id --stable`: patch-id reads the diffs while git still writes them, so the
    ids are ready as the last diff is. A failure of either raises CalledProcessError, patch-id's
    first (when it stops, the writer dies of the closed pipe, which says nothing)."""
    with subprocess.Popen(diffs, cwd=repo.working_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as source:
        assert source.stdout is not None and source.stderr is not None
        source_said = Pending(source.stderr.read)  # read meanwhile: a full stderr pipe would stop the writer
        ids = subprocess.Popen(["git", "patch-id", "--stable"], cwd=repo.working_dir, stdin=source.stdout,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        source.stdout.close()  # patch-id holds the pipe now: if it stops, the writer is told
        out, said = ids.communicate()
        source.wait()
        source_stderr = source_said.result()  # before the pipe is closed
    for command, returncode, stderr in ((["git", "patch-id"], ids.returncode, said),
                                        (diffs, source.returncode, source_stderr)):
        if returncode:
            raise subprocess.CalledProcessError(returncode, command, stderr=stderr)
    return out.decode()


def merge_base(repo: Repo, a: str, b: str) -> str | None:
    """The best common ancestor of two commits, or None when they share no history (or one of
    them is unknown). Found for two full SHAs, it is kept for the run: the planning scans and a
    conflict's forensics ask the same question, a few hundredths of a second on a long history."""
    key = (repo.common_dir, a, b)
    if key in _MERGE_BASES:
        return _MERGE_BASES[key]
    done = subprocess.run(["git", "merge-base", a, b], cwd=repo.working_dir, capture_output=True, text=True,
                          check=False)
    found = done.stdout.strip() or None if done.returncode == 0 else None
    if found and _FULL_SHA.fullmatch(a) and _FULL_SHA.fullmatch(b):
        _MERGE_BASES[key] = found
    return found


_MERGE_BASES: dict[tuple[str, str, str], str] = {}
_FULL_SHA = re.compile(r"[0-9a-f]{40}")


def unmerged_files(repo: Repo) -> list[str]:
    out = repo.git.diff("--name-only", "--diff-filter=U")
    return sorted({line for line in out.splitlines() if line})


def ls_remote(repo: Repo, remote: str, *args: str) -> str:
    """`git ls-remote [OPTIONS] REMOTE [PATTERNS]` against the remote itself; a remote that cannot be
    reached is an outside failure, said in one sentence (errors are redacted when printed)."""
    options = [a for a in args if a.startswith("-")]
    patterns = [a for a in args if not a.startswith("-")]
    try:
        return str(repo.git.ls_remote(*options, remote, *patterns))
    except GitCommandError as exc:
        raise Failed(f"cannot ask the remote {remote!r} ({' '.join(args)}): "
                     f"{failure_reason(exc) or f'git exit {exc.status}'}",
                     hints=[f"check the remote and your access: {git_c(repo)} remote -v"]) from None


def remote_branch_exists(repo: Repo, remote: str, branch: str) -> bool:
    """Ask the remote itself (not a possibly stale remote-tracking ref) whether it has the branch."""
    return bool(ls_remote(repo, remote, "--heads", f"refs/heads/{branch}").strip())


PICKED_FROM = re.compile(r"\(cherry picked from commit ([0-9a-f]{40})\)")


def picked_sources(repo: Repo, since: str, tip: str = "HEAD") -> list[tuple[str, str | None]]:
    """(new commit, the commit it was cherry-picked from) for since..tip, oldest first, read from
    the `(cherry picked from commit ...)` line `cherry-pick -x` writes."""
    out = repo.git.log("--reverse", "--first-parent", "--format=%H%x00%B%x1e", f"{since}..{tip}")
    pairs: list[tuple[str, str | None]] = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, _, body = record.partition("\x00")
        found = PICKED_FROM.findall(body)
        pairs.append((sha, found[-1] if found else None))
    return pairs


def cherry_pick_head(repo: Repo) -> str | None:
    path = git_dir(repo) / "CHERRY_PICK_HEAD"
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def cherry_pick_in_progress(repo: Repo) -> bool:
    return (git_dir(repo) / "CHERRY_PICK_HEAD").exists()


def range_diff(repo: Repo, old: list[str], new: list[str]) -> str:
    """`git range-diff` of a patch's old commits against its new ones."""
    if not old or not new:
        return ""
    old_range = f"{old[0]}^..{old[-1]}"
    new_range = f"{new[0]}^..{new[-1]}"
    try:
        # a high creation factor pairs each old commit with its new one even when the diff changed a
        # lot, so the output shows the change inside the patch instead of "removed" + "added"
        return repo.git.range_diff("--no-color", "--creation-factor=100", old_range, new_range)
    except GitCommandError:
        return ""


def config_env(settings: dict[str, str]) -> dict[str, str]:
    """Environment that gives git commands these settings on top of the configuration files
    (`git -c` for every command of a `Repo`'s `git`), appended to any the caller already has."""
    start = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    env = {"GIT_CONFIG_COUNT": str(start + len(settings))}
    for i, (key, value) in enumerate(settings.items(), start):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _blobs_at(repo: Repo, ref: str, paths: list[str]) -> dict[str, str | None]:
    """The blob each path has in `ref` (None where it has none), in one git process."""
    if not paths:
        return {}
    done = subprocess.run(["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd=repo.working_dir,
                          input="".join(f"{ref}:{p}\n" for p in paths), capture_output=True, text=True, check=True)
    answers = done.stdout.splitlines()
    return {p: (a.split()[0] if a.endswith(" blob") else None) for p, a in zip(paths, answers, strict=True)}


def _worktree_blobs(repo: Repo, paths: list[str]) -> dict[str, str | None]:
    """The blob id each working-copy file would have (None where there is no regular file)."""
    root = Path(repo.working_dir)
    present = [p for p in paths if (root / p).is_file() and not (root / p).is_symlink()]
    out: dict[str, str | None] = dict.fromkeys(paths)
    if present:
        done = subprocess.run(["git", "hash-object", "--no-filters", "--stdin-paths"], cwd=repo.working_dir,
                              input="".join(f"{p}\n" for p in present), capture_output=True, text=True, check=True)
        out.update(zip(present, done.stdout.split(), strict=True))
    return out


def changed_paths(repo: Repo) -> list[str]:
    """Staged, unstaged and untracked paths (untracked folders expanded), from `git status`."""
    out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all")
    fields = out.split("\0")
    paths: list[str] = []
    i = 0
    while i < len(fields):
        entry = fields[i]
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[0] in "RC":  # a rename names its source in the next field
                i += 1
        i += 1
    return paths


def not_in_between(repo: Repo, paths: list[str], refs: list[str]) -> list[str]:
    """The paths whose working-copy file matches none of `refs`: what a git command killed while
    moving the working copy from one of them to another cannot have written, so it is someone's own
    work. A missing file is never counted: its content is in git either way."""
    wt = _worktree_blobs(repo, paths)
    at = [_blobs_at(repo, ref, paths) for ref in refs]
    differ = [p for p in paths if all(blobs[p] != wt[p] for blobs in at)]
    # git replaces a file by removing it and writing the new one out: killed in between, the file
    # is missing or holds the start of the version it was writing
    return [p for p in differ if wt[p] is not None and not any(_half_written(repo, p, blobs[p]) for blobs in at)]


def _half_written(repo: Repo, path: str, blob: str | None) -> bool:
    file = Path(repo.working_dir) / path
    if blob is None or not file.is_file() or file.is_symlink():
        return False
    data = file.read_bytes()
    done = subprocess.run(["git", "cat-file", "blob", blob], cwd=repo.working_dir, capture_output=True, check=True)
    return len(data) < len(done.stdout) and done.stdout.startswith(data)


def remove_untracked_copies(repo: Repo, *refs: str) -> list[str]:
    """Remove untracked files that are exact copies of the file at the same path in one of `refs`,
    or the start of one: what a checkout or a cherry-pick of those commits killed before it wrote
    the index leaves behind (their content is in git, so nothing can be lost). Returns the paths."""
    out = repo.git.ls_files("--others", "--exclude-standard", "-z")
    untracked = [p for p in out.split("\0") if p]
    if not untracked or not refs:
        return []
    wt = _worktree_blobs(repo, untracked)
    at = [_blobs_at(repo, ref, untracked) for ref in refs]
    removed = [p for p in untracked if wt[p] is not None
               and any(blobs[p] == wt[p] or _half_written(repo, p, blobs[p]) for blobs in at)]
    for path in removed:
        (Path(repo.working_dir) / path).unlink()
    return removed
