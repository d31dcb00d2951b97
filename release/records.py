"""The names of what the tool keeps on disk, and the rules that find and check them.

One place for what the CLI and the Ansible roles must agree on: where the state directory is,
where each record lives in it, how a record's schema version is read, what an image digest is and
how an image reference is spelt. The skypilot_deploy role's plugins import this module inside
Ansible's own Python, so it uses the standard library only (release.errors is standard-library
only too). Never import ruamel, click, requests or docker here.

The state directory: `$ELLM_STATE_DIR` when set (CI points it at a folder it uploads as an
artifact), else `.ellm/` at the release repository root, beside the manifest's `patches/` folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from release.errors import Refused

STATE_DIR_ENV = "ELLM_STATE_DIR"
STATE_DIR_NAME = ".ellm"


# --- the state directory and the records in it -------------------------------------------------

def state_dir(manifest_path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Where records live: $ELLM_STATE_DIR, else `.ellm/` two levels above the manifest
    (`<release repo>/patches/manifest.yaml` -> `<release repo>/.ellm`), else `./.ellm`."""
    env = (os.environ if environ is None else environ).get(STATE_DIR_ENV)
    if env:
        return Path(env)
    if manifest_path is not None and str(manifest_path):
        return Path(manifest_path).resolve().parent.parent / STATE_DIR_NAME
    return Path.cwd() / STATE_DIR_NAME


def image_record_path(state: str | Path, version: str) -> Path:
    """`images/<version>.json`: what build and promote learnt about one release's image."""
    return Path(state) / "images" / f"{version}.json"


def build_log_path(state: str | Path, version: str) -> Path:
    return Path(state) / "images" / f"{version}.build.log"


def smoke_record_path(state: str | Path, digest: str) -> Path:
    """`smoke/sha256-<hex>.json`: every smoke run of one image digest."""
    if not is_digest(digest):
        raise ValueError(f"not an image digest: {digest!r} (expected sha256: and 64 hex digits)")
    return Path(state) / "smoke" / (digest.replace(":", "-") + ".json")


class RecordError(Refused):
    """A record this version cannot read: damaged, edited, or written by another version. Refused,
    never guessed around: a digest read from a damaged record could pin the wrong image."""


def write_json(path: Path, data: Any) -> Path:
    """Write atomically: a reader never sees half a record, even if we are killed mid-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


@contextmanager
def record_lock(path: Path) -> Iterator[None]:
    """Hold the lock beside a record while it is read, changed and written back: two commands
    updating one record at once (a build and a promote, two smoke tiers) take turns, so neither
    loses the other's fields. Released when the file closes, also if the process is killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def read_json(path: Path, what: str = "record", hint: str = "") -> Any | None:
    """The JSON at `path`, None when there is no file; anything unreadable is a RecordError that
    names the file and says what is wrong with it, the same words for every reader."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise unreadable(path, what, "it is a folder, not a file", hint) from None
    except UnicodeDecodeError:
        raise unreadable(path, what, "it is not UTF-8 text", hint) from None
    except json.JSONDecodeError as exc:
        raise unreadable(path, what, f"it is not JSON ({exc.msg}, line {exc.lineno})", hint) from None
    except OSError as exc:
        raise unreadable(path, what, f"the system refused to read it ({exc.strerror or exc})", hint) from None


def unreadable(path: Path, what: str, why: str, hint: str = "") -> RecordError:
    """The one wording of a record that cannot be used: the file, then what is wrong with it."""
    return RecordError(f"{path} is not a readable {what}: {why}",
                       hints=[hint or "move it aside, then run the command that writes it again"])


def schema_of(data: Mapping[str, Any], path: Path, what: str, current: int, hint: str = "") -> int:
    """The record's schema version, refused unless this version reads it. A record without one was
    written before records carried it, and reads as the first schema."""
    schema = data.get("schema", 0)
    if type(schema) is not int:
        raise unreadable(path, what, f"its schema is {schema!r}, not a number", hint)
    if schema not in (0, current):
        newer = "a newer" if schema > current else "an older"
        raise unreadable(path, what, f"it has schema {schema}, and this version of ellm-release reads schema "
                         f"{current} only (it was written by {newer} ellm-release)",
                         hint or "read it with the version that wrote it, or move it aside and write it again")
    return schema


# --- image digests -----------------------------------------------------------------------------

# The registry client hashes every manifest with sha256 and the deploy pins sha256 only, so an
# image digest is sha256 everywhere: a record naming another algorithm could never be deployed.
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")  # always fullmatch: `$` would let a trailing newline through


def is_digest(text: object) -> bool:
    """`sha256:` and exactly 64 lower-case hex digits, nothing before or after (no newline)."""
    return isinstance(text, str) and DIGEST_RE.fullmatch(text) is not None


# --- image references --------------------------------------------------------------------------

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# The distribution spec's repository path: lower-case components joined by `.`, `_`, `__` or dashes.
PATH_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


class InvalidImageReference(ValueError):
    """An image reference that names no image. `part` says which part is wrong: "name", "tag" or
    "digest" (a caller adds its own advice, such as the deploy role's variable names)."""

    def __init__(self, message: str, part: str = "name"):
        super().__init__(message)
        self.part = part


class ImageRef(NamedTuple):
    """`registry/repository[:tag][@digest]`, with Docker Hub's implicit names made explicit."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What goes in the /manifests/<reference> URL: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(text: str) -> ImageRef:
    """Parse `ghcr.io/org/name:tag`, `127.0.0.1:5000/name@sha256:...`, `name` (Docker Hub).

    Docker Hub names are spelt out the way Docker resolves them: `name` and `docker.io/name` mean
    `docker.io/library/name`, so the build record, the registry and the values name one repository."""
    value = text if isinstance(text, str) else ""
    if not value or any(c.isspace() for c in value):
        raise InvalidImageReference(f"the image reference {text!r} is empty or contains white space")
    rest, at, digest = value.partition("@")
    if at and not is_digest(digest):
        raise InvalidImageReference(f"not a sha256 digest: {digest!r}", "digest")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    tag = None
    name, colon, maybe_tag = path.rpartition(":")
    if colon and "/" not in maybe_tag:
        path, tag = name, maybe_tag
    if registry in DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if not PATH_RE.fullmatch(path):
        raise InvalidImageReference(f"not a valid repository name: {path!r} (lower-case letters, digits, "
                                    "'.', '_', '-' and '/')")
    if tag is not None and not TAG_RE.fullmatch(tag):
        raise InvalidImageReference(f"not a valid tag: {tag!r}", "tag")
    return ImageRef(registry, path, tag, digest or None)


def repository_name(text: str) -> str:
    """The image repository as the registry and the kubelet name it: `registry/path`, no tag and
    no digest (`ghcr.io/e/skypilot:v0.11.0` would become `...:v0.11.0:v0.12.0@sha256:...`)."""
    value = text.strip() if isinstance(text, str) else ""
    if not value or any(c.isspace() for c in value):
        raise InvalidImageReference(f"the image repository {text!r} is empty or contains white space")
    if "@" in value:
        raise InvalidImageReference(f"the image repository {value!r} must not carry a digest", "digest")
    try:
        ref = parse_image(value)
    except InvalidImageReference as exc:
        if exc.part == "tag":
            raise InvalidImageReference(f"the image repository {value!r} must not carry a tag", "tag") from None
        raise InvalidImageReference(f"the image repository {value!r} is not a valid name (lower-case letters, "
                                    "digits, '.', '_', '-' and '/')") from None
    if ref.tag is not None:
        raise InvalidImageReference(f"the image repository {value!r} must not carry a tag; give the repository "
                                    f"alone ({ref.name})", "tag")
    return ref.name


def same_repository(a: object, b: object) -> bool:
    """Whether two spellings name one repository (`skypilot` and `docker.io/library/skypilot` do)."""
    try:
        return isinstance(a, str) and isinstance(b, str) and repository_name(a) == repository_name(b)
    except InvalidImageReference:
        return False
