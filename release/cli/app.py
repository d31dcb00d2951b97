"""The `ellm-release` command line: parse, call, print. The work lives in the other modules."""

from __future__ import annotations

import atexit
import os
import re
import shlex
import sys
import threading
from pathlib import Path
from typing import Any, NamedTuple

import click

from release import __version__
from release.cli import pipes, registry
from release.cli.examples import examples
from release.cli.output import Options, options_of, outcome_document, write_json
from release.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_REFUSED, ManifestError, ReleaseError
from release.redaction import redact


class LazyGroup(click.Group):
    """The top-level group: lists the registry's commands and imports a command's module only to run it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(registry.NAMES)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own version loads every command to read its docstring: a third of a second of imports
        limit = formatter.width - 6 - max(len(name) for name in registry.NAMES)
        rows = [(entry.name, _shorten(entry.summary, limit)) for entry in registry.REGISTRY]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = registry.load(cmd_name)
        return with_global_options(command) if command is not None else None


# --- global options, wherever they are typed -----------------------------------------------------
# `ellm-release status --json` and `ellm-release --json status` mean the same: every command (nested
# groups included) also accepts the global options after its name. They are hidden from its help;
# the top-level help lists them once.

def _store(name: str) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value in (None, False, 0):
            return
        opts = options_of(ctx)
        if name == "verbose":
            opts.verbose += value
        else:
            setattr(opts, name, value)

    return callback


def _global_params() -> list[click.Option]:
    common: dict[str, Any] = {"expose_value": False, "hidden": True}
    return [
        click.Option(["--repo"], type=click.Path(path_type=Path), callback=_store("repo"), **common),
        click.Option(["--manifest"], type=click.Path(path_type=Path), callback=_store("manifest"), **common),
        click.Option(["--dry-run"], is_flag=True, callback=_store("dry_run"), **common),
        click.Option(["--json"], is_flag=True, callback=_store("json"), **common),
        click.Option(["-v", "--verbose"], count=True, callback=_store("verbose"), **common),
    ]


def with_global_options(command: click.Command) -> click.Command:
    """Give `command` (and, for a group, every command under it) the global options; once."""
    if getattr(command, "_has_global_options", False):
        return command
    taken = {name for param in command.params for name in param.opts + param.secondary_opts}
    command.params.extend(p for p in _global_params() if not taken & set(p.opts))
    command._has_global_options = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_global_options(sub)
    return command


@examples(
    "ellm-release status                 where the fork stands against the manifest",
    "ellm-release sync                   fork master <- upstream master (fast-forward only)",
    "ellm-release rebase 0.13.0          branch ellm-0.13.0 from upstream v0.13.0 and replay the patches",
    "ellm-release continue | skip | abort",
    "ellm-release patch add SHA          adopt a commit of the release branch that no patch names",
    "ellm-release build --push && ellm-release promote",
    "ellm-release demo                   a self-contained walkthrough on local repositories",
)
@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ellm-release")
@click.option("--repo", type=click.Path(path_type=Path), default=Path("skypilot"), show_default=True,
              envvar="ELLM_REPO", help="The fork's working copy.")
@click.option("--manifest", type=click.Path(path_type=Path), default=Path("patches/manifest.yaml"),
              show_default=True, envvar="ELLM_MANIFEST", help="The patch manifest.")
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout, whatever the outcome.")
@click.option("-v", "--verbose", count=True, help="More detail (repeat for more).")
@click.pass_context
def cli(ctx: click.Context, repo: Path, manifest: Path, dry_run: bool, as_json: bool, verbose: int) -> None:
    """Release tool for EmbeddedLLM's SkyPilot fork: sync upstream, rebase the patch stack,
    regenerate the fork README, build and promote images.

    The options below also work after the command (`ellm-release status --json`). Exit codes: 0
    done, 1 drift or a failed check, 2 refused before any change, 3 stopped on a conflict, 4 failed
    part-way or an outside failure, 70 internal error."""
    opts = options_of(ctx)  # main() passes one in, to print the JSON document at the end
    opts.repo, opts.manifest, opts.dry_run, opts.json, opts.verbose = repo, manifest, dry_run, as_json, verbose


class Ending(NamedTuple):
    """How a run ended: the exit code, and for a failure the sentence and hints already printed."""

    code: int
    error: str | None = None
    hints: tuple[str, ...] = ()
    data: dict[str, Any] | None = None


def _shorten(text: str, limit: int) -> str:
    """The summary cut at a word to fit the listing, as click does for its own listing."""
    if len(text) <= limit:
        return text
    kept = ""
    for word in text.split():
        longer = f"{kept} {word}" if kept else word
        if len(longer) + 3 > limit:
            break
        kept = longer
    return kept + "..."


def main(argv: list[str] | None = None, *, command: click.Command | None = None,
         prog_name: str = "ellm-release") -> None:
    """Run a command line and exit with the code of its meaning (release.errors). `command` is the
    whole tool by default; `python -m release.smoke` passes its group, so that both read alike:
    one sentence and its hints on stderr, the same exit codes, the same --json document."""
    args = sys.argv[1:] if argv is None else list(argv)
    if argv is None:  # a real process: `ellm-release rebase | head -3` must not stop the replay
        pipes.install()
    opts = Options()
    ending = _run(args, opts, command or cli, prog_name)
    if (opts.json or _asks_for(args, "--json")) and not _shows_help(args, top_level=command in (None, cli)):
        result = {**opts.result, **ending.data} if isinstance(opts.result, dict) and ending.data else (
            ending.data or opts.result)
        write_json(outcome_document(result, ending.code, ending.error, list(ending.hints)))
    pipes.drain()
    if argv is None:
        _leave(ending.code)
    sys.exit(ending.code)


def _leave(code: int) -> None:
    """End a real process without the interpreter's teardown of every module, object by object: with
    Rich, Jinja2 and YAML loaded that takes about 0.04 s, longer than some commands' own work.
    Output is already flushed (`pipes.drain`); the exit handlers still run. Left to `sys.exit`
    when a thread of the tool's own could still be working."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    atexit._run_exitfuncs()
    pipes.drain()  # what a handler printed
    os._exit(code)


def _run(args: list[str], opts: Options, command: click.Command, prog_name: str) -> Ending:
    """Run the command line; every outcome becomes an exit code by meaning (release.errors) and,
    for a failure, one sentence on stderr."""
    try:
        # without standalone mode click hands back the code of ctx.exit()/Exit instead of exiting
        code = command.main(args=args, prog_name=prog_name, standalone_mode=False, obj=opts)
    except click.exceptions.Exit as exc:
        return Ending(exc.exit_code)
    except click.ClickException as exc:  # bad usage or a bad value: nothing was done
        exc.show()
        if isinstance(exc, click.exceptions.NoArgsIsHelpError):  # its message is the whole help text
            return Ending(EXIT_REFUSED, f"`{exc.ctx.command_path if exc.ctx else prog_name}` needs a command")
        return Ending(EXIT_REFUSED, exc.format_message())
    except click.Abort:
        click.echo("interrupted", err=True)
        return Ending(130, "interrupted")
    except ManifestError as exc:
        return _failed(EXIT_REFUSED, f"the manifest has {len(exc.problems)} problem(s):",
                       [str(p) for p in exc.problems])
    except ReleaseError as exc:
        return _failed(exc.exit_code, exc.message, _repeat_global_options(exc.hints, opts), exc.data)
    except OSError as exc:  # the system refused a read or a write (permissions, disk full, ...)
        message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        # not a bug: the hint points at the path, and -v still shows where it happened
        hints = ["check the path (its folder, permissions, free space), then run the command again"]
        if opts.verbose or _asks_for(args, "-v", "--verbose"):
            _print_trace()
        return _failed(EXIT_FAILED, message, hints)
    except Exception as exc:  # a bug: one line for the user, the traceback with -v
        git_said = _git_failure(exc)
        if git_said is not None:
            # every git failure the tool foresees is turned into a ReleaseError; this one was not
            return _failed(EXIT_INTERNAL, git_said, _trace_hint(args, opts))
        return _failed(EXIT_INTERNAL, f"internal error ({type(exc).__name__}: {exc}); this is a bug",
                       _trace_hint(args, opts))
    return Ending(code if isinstance(code, int) else 0)


def _failed(code: int, message: str, hints: list[str], data: dict[str, Any] | None = None) -> Ending:
    # errors quote git, registries and GitHub, whose messages may carry a URL with credentials
    message, hints = redact(message), [redact(h) for h in hints]
    click.echo(f"error: {message}", err=True)
    for hint in hints:
        click.echo(f"  {hint}", err=True)
    return Ending(code, message, tuple(hints), data)


def _repeat_global_options(hints: list[str], opts: Options) -> list[str]:
    """When hints suggest `ellm-release ...` commands and this run was pointed at a fork or manifest a
    bare command would not reach from here, a last hint says to repeat --repo/--manifest: pasted as
    printed, the suggestion would act on another repository (or on none)."""
    given = []
    if _elsewhere(opts.repo, os.environ.get("ELLM_REPO") or "skypilot"):
        given += ["--repo", str(opts.repo)]
    if _elsewhere(opts.manifest, os.environ.get("ELLM_MANIFEST") or "patches/manifest.yaml"):
        given += ["--manifest", str(opts.manifest)]
    names = "|".join(map(re.escape, registry.NAMES))
    suggests = re.compile(rf"(?<![\w/.-])ellm-release (?:--|(?:{names})\b)")
    if not given or not any(suggests.search(hint) for hint in hints):
        return hints
    return [*hints, f"add {shlex.join(given)} to the ellm-release commands above, as to this one"]


def _elsewhere(given: Path, default: str) -> bool:
    try:
        return given.resolve() != Path(default).resolve()
    except OSError:  # a path that cannot be resolved is not the default's
        return True


def _trace_hint(args: list[str], opts: Options) -> list[str]:
    """Under -v the traceback goes to stderr; otherwise a hint says how to get it."""
    if opts.verbose or _asks_for(args, "-v", "--verbose") or any(a[:2] == "-v" and set(a[1:]) == {"v"} for a in args):
        _print_trace()
        return ["report it with the trace above"]
    return ["rerun with -v to see the full trace, and report it with that output"]


def _print_trace() -> None:
    import traceback  # only a failure needs it; loaded at every start, it costs about 2 ms

    traceback.print_exc()


def _asks_for(args: list[str], *names: str) -> bool:
    """Whether one of `names` is on the command line (before a `--` that ends the options)."""
    options = args[:args.index("--")] if "--" in args else args
    return any(a in names for a in options)


def _shows_help(args: list[str], *, top_level: bool = True) -> bool:
    """--help (or the tool's own --version) prints text on stdout instead of running a command."""
    before_command = next((args[:i] for i, a in enumerate(args) if a in registry.NAMES), args)
    return _asks_for(args, "-h", "--help") or (top_level and "--version" in before_command)


def _git_failure(exc: Exception) -> str | None:
    # the git gateway is imported by the commands that use it, not here, to keep startup fast: a
    # git failure can only come from a command that did
    gateway = sys.modules.get("release.repo.gitrepo")
    if gateway is None:
        return None
    said: str | None = gateway.unexpected_failure(exc)
    return said
