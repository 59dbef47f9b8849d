"""Names people type (dashboard titles, template, schedule and saved-report names): trimmed, at most
120 characters, required, one line, and numbered ("Revenue (2)") when the name is taken."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

MAX_NAME = 120
_SPACES = re.compile(r"\s+")
_NUMBERED = re.compile(r"^(?P<base>.*?) \((?P<n>\d+)\)$")


class NameInputError(ValueError):
    """A name that cannot be used; `user_message` says why in plain words (a 400)."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def clean_name(
    raw: object,
    what: str = "name",
    *,
    error: Callable[[str], Exception] = NameInputError,
) -> str:
    """`raw` trimmed, with runs of spaces (and tabs or line breaks) made one space.

    Args:
        raw: what was typed (None counts as empty).
        what: the name's label in messages ("dashboard title").
        error: builds the exception to raise from a message (each store has its own error class).

    Raises:
        the `error` of a message naming the problem: empty, not text, or over 120 characters.
    """
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise error(f"The {what} must be text.")
    name = _SPACES.sub(" ", raw).strip()
    name = "".join(ch for ch in name if ch >= " " and ch != "\x7f")
    if not name:
        raise error(f"A {what} is required.")
    if len(name) > MAX_NAME:
        raise error(f"The {what} is {len(name)} characters long; keep it to {MAX_NAME}.")
    return name


def numbered(name: str, taken: Iterable[str]) -> str:
    """`name`, or the first free "name (2)", "name (3)"... when another item already has it
    (case and spacing ignored); the number keeps the result within 120 characters."""
    used = {_key(t) for t in taken if t}
    if _key(name) not in used:
        return name
    match = _NUMBERED.match(name)
    base = match["base"] if match else name
    n = int(match["n"]) + 1 if match else 2
    while True:
        suffix = f" ({n})"
        candidate = base[: MAX_NAME - len(suffix)].rstrip() + suffix
        if _key(candidate) not in used:
            return candidate
        n += 1


def _key(name: str) -> str:
    return _SPACES.sub(" ", name).strip().casefold()
