"""The CI side of the loop: `upstream`, `report`, `pr` and `notify`.

Each command reads what earlier steps left (the manifest, the fork's upstream remote, the saved
rebase summary) and either prints it for a workflow or carries it to GitHub.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from release.cli.examples import examples
from release.cli.output import Options, pass_options
from release.cli.tables import rebase_table
from release.errors import Refused
from release.github import client as gh
from release.github import pull_request, tracking_issue
from release.rebase.summary import RebaseSummary, render_markdown
from release.records import read_json, state_dir

LAST_REBASE = "last-rebase.json"

summary_option = click.option(
    "--summary", "summary_file", type=click.Path(path_type=Path, dir_okay=False),
    help=f"Read this saved summary instead of <state dir>/{LAST_REBASE}.")
github_url_option = click.option(
    "--github-url", metavar="URL",
    help="GitHub API root (GitHub Enterprise: https://HOST/api/v3). Default: $GITHUB_API_URL or github.com.")


def summary_path(opts: Options, explicit: Path | None = None) -> Path:
    return explicit or state_dir(opts.manifest) / LAST_REBASE


def load_summary(opts: Options, explicit: Path | None = None, *, required: bool = True) -> RebaseSummary | None:
    """The last rebase's summary, as the rebase engine saved it."""
    path = summary_path(opts, explicit)
    data = read_json(path)  # a damaged file is reported by read_json itself
    if data is None:
        if not required:
            return None
        raise Refused(f"no rebase has been recorded yet: {path} does not exist",
                      hints=["ellm-release rebase VERSION   # saves its summary there",
                             "or point ELLM_STATE_DIR / --summary at a saved one"])
    try:
        return RebaseSummary.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused(f"{path} is not a rebase summary this tool can read ({type(exc).__name__}: {exc})") from None


def load_manifest_for(opts: Options) -> Any:
    from release.manifest.model import load_manifest

    return load_manifest(opts.manifest)


def require_token(opts: Options) -> str:
    token = gh.token_from_env()
    if token is None:
        raise Refused("GITHUB_TOKEN is not set", hints=["export GITHUB_TOKEN=... (a token with pull-requests and "
                                                      "issues write access), or add --dry-run"])
    return token


def _plain(opts: Options, text: str) -> None:
    """Print text as is: titles such as "[Kubernetes] ..." must not be read as Rich markup."""
    opts.say(text, soft_wrap=True)


def github_file(variable: str) -> Path:
    """The file GitHub Actions names in the environment ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY); refused
    outside a step. Commands ask for it before writing anything else, so the refusal changes nothing."""
    target = os.environ.get(variable)
    if not target:
        raise Refused(f"${variable} is not set; this option is meant for a GitHub Actions step")
    return Path(target)


def append_github_file(variable: str, text: str) -> Path:
    """Append to a file GitHub Actions names in the environment ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY)."""
    path = github_file(variable)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    return path


# --------------------------------------------------------------------------------------------------
# upstream

@examples(
    "ellm-release upstream                  stable releases newer than the manifest's version",
    "ellm-release upstream --pre            release candidates too",
    'ellm-release --json upstream           {"current": "0.12.0", "newer": [...], "latest": "0.13.0"}',
    "ellm-release upstream --github-output  also sets the step outputs latest=, newer=, current=",
    "ellm-release upstream --changes 0.13.0  upstream commits up to 0.13.0 touching the patches' files",
    "ellm-release --json upstream --changes 0.13.0   the same as one JSON document",
)
@click.command("upstream")
@click.option("--pre", is_flag=True, help="Include release candidates (e.g. 0.14.0rc1).")
@click.option("--offline", is_flag=True, help="Use the tags already fetched instead of asking the remote.")
@click.option("--since", "since", metavar="VERSION", help="Compare with this version instead of the manifest's.")
@click.option("--github-output", is_flag=True, help="Append latest=, newer=, current= to $GITHUB_OUTPUT.")
@click.option("--changes", "changes_to", metavar="VERSION",
              help="Instead: list upstream commits up to VERSION that touch the carried patches' files.")
@pass_options
def upstream_cmd(opts: Options, pre: bool, offline: bool, since: str | None, github_output: bool,
                 changes_to: str | None) -> None:
    """List upstream releases newer than the manifest's version, oldest first (read-only).

    Only tags named vX.Y.Z on the upstream remote count; branches such as releases/0.13.0rc1 never do.

    With --changes VERSION it previews a rebase instead: the upstream commits between the manifest's
    base and VERSION that touch files the carried patches touch (and no others), grouped by patch,
    with a link to each commit's pull request. The preview is saved for `report`.
    """
    if changes_to is not None:
        clashing = [name for name, given in (("--pre", pre), ("--since", since), ("--github-output", github_output))
                    if given]
        if clashing:  # they shape the list of releases, which --changes does not print
            raise click.UsageError(f"--changes does not go with {', '.join(clashing)}")
        _upstream_changes(opts, changes_to)
        return
    from release.rebase.upstream import check_version, release_tags
    from release.repo.gitrepo import open_repo, require_remote

    manifest = load_manifest_for(opts)
    current = since or manifest.version
    check_version(current)
    if github_output and not opts.dry_run:
        github_file("GITHUB_OUTPUT")  # refuse outside Actions before asking the remote
    repo = open_repo(opts.repo)
    if not offline:
        require_remote(repo, manifest.upstream_remote)
    tags = release_tags(repo, manifest.upstream_remote, include_pre=pre, newer_than=current, online=not offline)
    newer: list[dict[str, Any]] = [{"version": t.version, "tag": t.tag, "sha": t.sha, "prerelease": t.prerelease}
                                   for t in tags]
    result = {"current": current, "remote": manifest.upstream_remote, "include_pre": pre,
              "newer": newer, "latest": newer[-1]["version"] if newer else None}
    if github_output and not opts.dry_run:
        append_github_file("GITHUB_OUTPUT", f"current={current}\nlatest={result['latest'] or ''}\n"
                                            f"newer={' '.join(t['version'] for t in newer)}\n")
    _say_upstream(opts, result)
    opts.emit(result)


def _upstream_changes(opts: Options, version: str) -> None:
    from release.rebase import changes
    from release.repo.gitrepo import open_repo

    manifest = load_manifest_for(opts)
    preview = changes.upstream_changes(open_repo(opts.repo), manifest, version)
    if not opts.dry_run:  # saved for `report`, which adds it to the nightly's report
        changes.save_preview(manifest.path, preview)
    for line in changes.render_lines(preview):
        _plain(opts, line)
    opts.emit(preview)


def _say_upstream(opts: Options, result: dict[str, Any]) -> None:
    if not result["newer"]:
        _plain(opts, f"up to date: no upstream release newer than {result['current']}")
        return
    _plain(opts, f"upstream releases newer than {result['current']}:")
    for t in result["newer"]:
        pre = "  (pre-release)" if t["prerelease"] else ""
        _plain(opts, f"  {t['version']:<12} {t['tag']:<14} {t['sha'][:12]}{pre}")
    _plain(opts, f"latest: {result['latest']}   next: ellm-release rebase {result['latest']}")


# --------------------------------------------------------------------------------------------------
# report

@examples(
    "ellm-release report                         the last rebase as Markdown",
    "ellm-release report --format table          the same as a terminal table",
    "ellm-release report --format json           the saved summary as JSON",
    "ellm-release report --output report.md --step-summary   a file, and the Actions job summary",
)
@click.command("report")
@click.option("--format", "fmt", type=click.Choice(["md", "json", "table"]), default="md", show_default=True)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Also write the report here.")
@click.option("--step-summary", is_flag=True, help="Append the Markdown report to $GITHUB_STEP_SUMMARY.")
@summary_option
@pass_options
def report_cmd(opts: Options, fmt: str, output: Path | None, step_summary: bool, summary_file: Path | None) -> None:
    """Show the last rebase: each patch's outcome, old -> new SHAs, range-diffs of changed patches."""
    summary = load_summary(opts, summary_file)
    assert summary is not None
    from release.github.report_sections import extra_sections

    markdown = "\n".join([render_markdown(summary), *extra_sections(opts.manifest, summary.version)])
    text = json.dumps(summary.to_dict(), indent=2, sort_keys=True) + "\n" if fmt == "json" else markdown
    if step_summary and not opts.dry_run:
        github_file("GITHUB_STEP_SUMMARY")  # refuse outside Actions before --output is written
    if output is not None:
        if opts.dry_run:
            _plain(opts, f"dry run: would write the {fmt} report to {output}")
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
            _plain(opts, f"wrote {output}")
    if step_summary:
        if opts.dry_run:
            _plain(opts, "dry run: would append the Markdown report to $GITHUB_STEP_SUMMARY")
        else:
            _plain(opts, f"appended to {append_github_file('GITHUB_STEP_SUMMARY', markdown)}")
    if opts.json:
        opts.emit(summary)
    elif fmt == "table":
        opts.say(rebase_table(summary, opts.width))
    elif output is None and not step_summary:
        click.echo(text, nl=False)


# --------------------------------------------------------------------------------------------------
# pr

@examples(
    "ellm-release pr                          release repo: branch release/VERSION -> main, body = report",
    "ellm-release pr --into fork              fork: branch rebase/ellm-VERSION -> ellm-VERSION",
    "ellm-release pr --head me:my-branch --base main --repo-slug EmbeddedLLM/ellm-release",
    "ellm-release --dry-run pr                print the request, send nothing (no token needed)",
)
@click.command("pr")
@click.option("--into", type=click.Choice(["release", "fork"]), default="release", show_default=True,
              help="Which repository the pull request targets; decides the defaults below.")
@click.option("--repo-slug", metavar="OWNER/NAME",
              help="Target repository. Default: $GITHUB_REPOSITORY (release) or the manifest's fork.repo (fork).")
@click.option("--head", metavar="BRANCH", help="Branch with the change (owner:branch for another repository). "
              "Default: release/VERSION (release) or rebase/ellm-VERSION (fork).")
@click.option("--base", metavar="BRANCH", help="Branch to merge into. Default: main (release) or ellm-VERSION "
              "(fork).")
@click.option("--version", "version", metavar="VERSION",
              help="Release version. Default: the saved summary's, else the manifest's.")
@click.option("--title", help="Pull request title (default derived from the version).")
@click.option("--body-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Use this Markdown as the body instead of the report.")
@click.option("--draft", is_flag=True, help="Open it as a draft.")
@click.option("--report-url", metavar="URL", help="Where the full report is, named in a body shortened to fit "
              "GitHub's 65,536 characters. Default: the Actions run page (its report artifact).")
@summary_option
@github_url_option
@pass_options
def pr_cmd(opts: Options, into: str, repo_slug: str | None, head: str | None, base: str | None,
           version: str | None, title: str | None, body_file: Path | None, draft: bool, report_url: str | None,
           summary_file: Path | None, github_url: str | None) -> None:
    """Open the pull request for the current release change, or update its body if one is open.

    The token comes from $GITHUB_TOKEN only, never from the command line."""
    summary = load_summary(opts, summary_file, required=body_file is None)
    manifest = load_manifest_for(opts)
    version = version or (summary.version if summary else None) or manifest.version
    if into == "release":
        slug = repo_slug or os.environ.get("GITHUB_REPOSITORY")
        head, base = head or f"release/{version}", base or "main"
    else:
        slug = repo_slug or manifest.fork_repo
        base = base or manifest.branch(version)
        head = head or f"rebase/{manifest.branch(version)}"
    if body_file:
        full, shorter = body_file.read_text(encoding="utf-8"), None
    else:
        assert summary is not None
        full, shorter = render_markdown(summary), render_markdown(summary, range_diffs=False)
    body, left_out = pull_request.fit_pr_body(full, without_range_diffs=shorter,
                                              report_url=report_url or gh.run_url_from_env())
    if left_out:
        opts.say(f"note: the report is over GitHub's {pull_request.BODY_LIMIT:,} characters; the pull request body "
                 + ("leaves out the range-diffs" if left_out == "range-diffs" else "is cut") + " and says so",
                 style="yellow")
    plan = pull_request.PullRequestPlan(slug=gh.check_slug(slug), head=head, base=base,
                              title=title or pull_request.pr_title(summary, version), body=body, draft=draft)
    api = gh.api_url(github_url)
    if opts.dry_run:
        _pr_dry_run(opts, plan, api)
        return
    client = gh.GitHubClient(plan.slug, require_token(opts), api)
    result = client.create_or_update_pull(plan)
    verb = {pull_request.PullAction.CREATED: "opened", pull_request.PullAction.UPDATED: "updated the body of",
            pull_request.PullAction.UNCHANGED: "nothing to change in"}[result.action]
    _plain(opts, f"{verb} pull request #{result.number}: {result.url}")
    opts.emit({"action": result.action, "number": result.number, "url": result.url, "repo": plan.slug,
               "head": plan.head, "base": plan.base, "body_left_out": left_out})


def _pr_dry_run(opts: Options, plan: pull_request.PullRequestPlan, api: str) -> None:
    lookup, create = plan.lookup_request(api), plan.create_request(api)
    _plain(opts, f"dry run: would look for an open pull request: GET {lookup['url']} {lookup['params']}")
    _plain(opts, f"if none is open, it would send: POST {create['url']}")
    _plain(opts, json.dumps(create["json"], indent=2))
    _plain(opts, "if one is open, it would PATCH that pull request's title and body instead")
    opts.emit({"action": "dry-run", "repo": plan.slug, "head": plan.head, "base": plan.base,
               "requests": [lookup, create]})


# --------------------------------------------------------------------------------------------------
# notify

@examples(
    "ellm-release notify --issue --status failure --step rebase",
    "ellm-release notify --issue --status success          closes the open issue, if any",
    "ellm-release notify --issue --status cancelled        not green: notes it on an open issue, closes nothing",
    "ellm-release --dry-run notify --issue --status failure   print the requests, send nothing",
)
@click.command("notify")
@click.option("--issue", "use_issue", is_flag=True, default=True,
              help="Report through one tracking issue (the only channel for now; on by default).")
@click.option("--status", type=click.Choice(list(tracking_issue.NOTIFY_STATUSES)), required=True,
              help="How the run ended; only success is green (cancelled never closes the issue).")
@click.option("--step", metavar="NAME", help="The step or job that failed.")
@click.option("--run-url", metavar="URL", help="Link to the run. Default: built from the Actions environment.")
@click.option("--label", default=gh.DEFAULT_LABEL, show_default=True, help="Label that marks the tracking issue.")
@click.option("--title", default=tracking_issue.ISSUE_TITLE, show_default=True, help="Title of a newly opened issue.")
@click.option("--repo-slug", metavar="OWNER/NAME", help="Repository for the issue. Default: $GITHUB_REPOSITORY.")
@summary_option
@github_url_option
@pass_options
def notify_cmd(opts: Options, use_issue: bool, status: str, step: str | None, run_url: str | None, label: str,
               title: str, repo_slug: str | None, summary_file: Path | None, github_url: str | None) -> None:
    """Keep one tracking issue for the nightly run: open it on the first failure, comment on later
    failures, close it with a comment on the next success.

    A rebase conflict saved in the summary is reported as work for a maintainer, with the patch,
    commit and files, not as a crash. In GitHub Actions the run URL comes from GITHUB_SERVER_URL,
    GITHUB_REPOSITORY and GITHUB_RUN_ID.
    """
    slug = gh.check_slug(repo_slug or os.environ.get("GITHUB_REPOSITORY"))
    run = tracking_issue.RunInfo(status=status, step=step, run_url=run_url or gh.run_url_from_env(),
                     summary=load_summary(opts, summary_file, required=False))
    api = gh.api_url(github_url)
    if opts.dry_run:
        requests = tracking_issue.notify_requests(run, slug, label, api, title)
        _plain(opts, f"dry run: would look for an open issue labelled {label!r} in {slug}, then:")
        for req in requests[1:]:
            _plain(opts, f"  ({req['when']}) {req['method']} {req['url']}")
            _plain(opts, "    " + json.dumps(req["json"])[:2000])
        opts.emit({"action": "dry-run", "repo": slug, "label": label, "requests": list(requests)})
        return
    client = gh.GitHubClient(slug, require_token(opts), api)
    result = client.notify(run, label, title)
    _say_notify(opts, result, label)
    opts.emit({**result.to_dict(), "repo": slug, "label": label,
               "needs_maintainer": bool(run.summary and run.summary.conflict
                                        and status == tracking_issue.RunStatus.FAILURE)})


def _say_notify(opts: Options, result: tracking_issue.NotifyResult, label: str) -> None:
    messages = {
        tracking_issue.NotifyAction.CREATE: f"opened tracking issue #{result.issue}: {result.url}",
        tracking_issue.NotifyAction.COMMENT: f"commented on tracking issue #{result.issue}: {result.url}",
        tracking_issue.NotifyAction.CLOSE: f"closed tracking issue #{result.issue}: {result.url}",
        tracking_issue.NotifyAction.NONE: f"no open issue labelled {label!r}, and nothing to report: nothing to do",
    }
    _plain(opts, messages[result.action])

