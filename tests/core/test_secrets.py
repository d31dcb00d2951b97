"""Secrets stay secret: a token in a manifest URL is refused, and credentials in git remotes or in
errors never reach what the tool prints or writes."""

from __future__ import annotations

import json

import pytest
from support.git import git
from support.worlds import Cli

from release.cli.output import Options, write_json
from release.demo.sandbox import World
from release.redaction import has_url_credentials, redact, register_secret, strip_url_credentials

TOKEN = "ghp_s3cretTokenThatMustNotLeak42"


@pytest.mark.parametrize(("section", "key"), [("upstream", "url"), ("fork", "url")])
def test_a_token_in_a_manifest_url_is_refused_with_its_line(world: World, cli: Cli, section: str,
                                                           key: str) -> None:
    text = world.manifest_path.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = lines.index(f"{section}:")
    index = next(i for i in range(start, len(lines)) if lines[i].startswith(f"  {key}: "))
    lines[index] = f"  {key}: https://ellm-bot:{TOKEN}@github.com/example/{section}.git"
    world.manifest_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    for args in (["status"], ["readme", "--check"], ["--dry-run", "build"]):
        result = cli(world, *args, json_output=True)
        assert result.code == 2, (args, result.err)
        assert f"{world.manifest_path}:{index + 1}: {section}.{key}: carries credentials" in result.err
        assert json.loads(result.out)["exit_code"] == 2
        assert TOKEN not in result.text


def test_credentials_in_a_git_remote_never_show_in_errors(world: World, cli: Cli) -> None:
    git(world.fork, "remote", "set-url", "origin", f"https://ellm-bot:{TOKEN}@127.0.0.1:9/fork.git")

    result = cli(world, "sync", json_output=True)

    assert result.code == 4  # the remote failed: an outside failure
    assert "git fetch from origin failed" in result.err
    assert "127.0.0.1:9/fork.git" in result.err  # the address is still there to check
    assert TOKEN not in result.text and "ellm-bot" not in result.text


def test_the_json_document_and_printed_lines_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    register_secret(TOKEN)
    opts = Options(json=True)
    opts.say(f"label source=https://user:pw@github.com/example/fork, token {TOKEN}")
    opts.progress(f"pushing with Authorization: Bearer {TOKEN}")
    write_json({"source": "https://user:pw@github.com/example/fork", "note": f"token={TOKEN}"})
    out, err = capsys.readouterr()
    assert json.loads(out) == {"source": "https://***@github.com/example/fork", "note": "token=***"}
    assert "https://***@github.com/example/fork" in err
    assert TOKEN not in out + err and ":pw@" not in out + err


@pytest.mark.parametrize(("text", "masked", "stripped"), [
    ("https://u:p@github.com/o/r.git", "https://***@github.com/o/r.git", "https://github.com/o/r.git"),
    (f"https://{TOKEN}@github.com/o/r", "https://***@github.com/o/r", "https://github.com/o/r"),
    ("fatal: unable to access 'https://oauth2:x@gitlab.com/a.git/': 403",
     "fatal: unable to access 'https://***@gitlab.com/a.git/': 403",
     "fatal: unable to access 'https://gitlab.com/a.git/': 403"),
    ("ssh://git@github.com/o/r.git", None, None),  # a user name, not a secret
    ("git@github.com:o/r.git", None, None),
    ("https://github.com/o/r@v1", None, None),
])
def test_redact_keeps_addresses_and_masks_credentials(text: str, masked: str | None, stripped: str | None) -> None:
    assert redact(text) == (masked or text)
    assert strip_url_credentials(text) == (stripped or text)
    assert has_url_credentials(text) == (masked is not None)
