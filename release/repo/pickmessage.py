"""The message `git cherry-pick -x` gives the commit it makes, worked out without running git.

A replay that builds its commits as objects (release.repo.memorypick) must write the same message
git would: the source's message, then `(cherry picked from commit SHA)` (straight under the last
paragraph when that paragraph is a block of trailers such as `Signed-off-by:`, after a blank line
otherwise), with trailing spaces and repeated blank lines cleaned the way git cleans them.

Where git's answer would depend on something this module does not model (comment lines, the
scissors line, an old `Conflicts:` block, carriage returns, configured trailers or comment
characters), it answers None and the caller leaves the commit to git itself. Pure: bytes in,
bytes out.
"""

from __future__ import annotations

ORIGIN = b"(cherry picked from commit "

# Trailers git writes itself: one of these makes a mostly-trailer paragraph count as a block.
GIT_GENERATED = (b"Signed-off-by: ", ORIGIN)

_SPACE = b" \t\n\r"  # git's isspace(): no vertical tab, no form feed


def cherry_picked_message(message: bytes, source: str) -> bytes | None:
    """The message of the commit `git cherry-pick -x` makes from a commit whose message is
    `message` (bytes after the header), None where git's rules would need more than modelled."""
    if not _modelled(message):
        return None
    text = _without_leading_blank_lines(message)
    text = text if not text or text.endswith(b"\n") else text + b"\n"
    if not _has_trailer_block(text):
        text += b"\n"
    text += ORIGIN + source.encode("ascii") + b")\n"
    return strip_space(text)


def _modelled(message: bytes) -> bool:
    if b"\r" in message or b"\0" in message:
        return False
    return not any(line.startswith(b"#") or line == b"Conflicts:" for line in message.split(b"\n"))


def _without_leading_blank_lines(message: bytes) -> bytes:
    """git starts from the first line that holds more than whitespace."""
    start = 0
    while start < len(message):
        newline = message.find(b"\n", start)
        line_end = len(message) if newline < 0 else newline + 1
        if not _blank(message[start:line_end]):
            break
        start = line_end
    return message[start:]


def strip_space(text: bytes) -> bytes:
    """git's whitespace clean-up: trailing whitespace off every line, runs of blank lines made
    one, none at the start or the end, and a newline after the last line."""
    out: list[bytes] = []
    blank_run = False
    for line in text.split(b"\n"):
        line = line.rstrip(_SPACE)
        if not line:
            blank_run = True
            continue
        if blank_run and out:
            out.append(b"")
        blank_run = False
        out.append(line)
    return b"".join(line + b"\n" for line in out)


def _has_trailer_block(text: bytes) -> bool:
    """Whether the last paragraph after the title is a trailer block, by git's rule: every line a
    trailer (continuation lines allowed), or at least one trailer git writes itself and at least a
    quarter of the lines trailers."""
    end = _end_before_trailing_empty_lines(text)
    return _trailer_start(text, end) != end


def _end_before_trailing_empty_lines(text: bytes) -> int:
    """Where the message ends once a run of empty lines at its end is set aside (git counts an
    empty line at offset 0 as no run, and so does this)."""
    start_of_run = 0
    offset = 0
    for line in text.split(b"\n")[:-1] if text.endswith(b"\n") else text.split(b"\n"):
        if line == b"":
            if not start_of_run:
                start_of_run = offset
        else:
            start_of_run = 0
        offset += len(line) + 1
    return start_of_run if start_of_run else len(text)


def _line_starts(text: bytes, end: int) -> list[int]:
    starts, offset = [], 0
    while offset < end:
        starts.append(offset)
        newline = text.find(b"\n", offset, end)
        offset = end if newline < 0 else newline + 1
    return starts


def _line(text: bytes, start: int) -> bytes:
    newline = text.find(b"\n", start)
    return text[start:] if newline < 0 else text[start:newline]


def _blank(line: bytes) -> bool:
    return not line.strip(_SPACE)


def _separator_at(line: bytes) -> int:
    """Where a `Token: value` line has its colon (-1: none): the token is letters, digits and
    dashes, and may be followed by spaces before the colon."""
    seen_space = False
    for index, char in enumerate(line):
        if char == ord(":"):
            return index
        if not seen_space and (chr(char).isascii() and (chr(char).isalnum() or char == ord("-"))):
            continue
        if index and char in b" \t":
            seen_space = True
            continue
        break
    return -1


def _trailer_start(text: bytes, end: int) -> int:
    """Where the trailer block of text[:end] starts; `end` when there is none."""
    starts = _line_starts(text, end)
    title_end = next((s for s in starts if _blank(_line(text, s))), end)
    trailers = non_trailers = continuations = 0
    git_generated, only_blank_so_far = False, True
    for start in reversed(starts):
        if start < title_end:
            break
        line = _line(text, start)
        if _blank(line):
            if only_blank_so_far:
                continue
            non_trailers += continuations
            block = start + len(line) + 1
            if git_generated and trailers * 3 >= non_trailers:
                return block
            if trailers and not non_trailers:
                return block
            return end
        only_blank_so_far = False
        if line.startswith(GIT_GENERATED):
            trailers += 1
            continuations = 0
            git_generated = True
        elif _separator_at(line) >= 1 and line[:1] not in (b" ", b"\t"):
            trailers += 1
            continuations = 0
        elif line[:1] in (b" ", b"\t"):
            continuations += 1
        else:
            non_trailers += 1 + continuations
            continuations = 0
    return end
