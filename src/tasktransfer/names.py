"""The one strict pattern of every name that becomes part of a path or a shell line.

Task names, file names and seeds come from the task registry, from a run's config and from
shared pools (untrusted: a pool is downloaded from other people). Each is checked here where it
is read, before anything is planned, written or run; the workflow constrains its wildcards to the
same patterns (``workflow/rules/common.smk``). The control pseudo-source ``_control`` is the one
name with a leading underscore, and only as a transfer's source.
"""

from __future__ import annotations

import re

from tasktransfer.errors import UnsafeNameError

#: a task name or one file-name component: starts with a letter or digit; letters, digits,
#: '_', '.', '-' after it; at most 128 characters (never '.', '..', a '/', a space or a quote)
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"
#: the control init, transferred into every target like a source (workflow: CONTROL)
CONTROL = "_control"
#: a transfer's source: a task name, or the control
SOURCE_PATTERN = rf"{re.escape(CONTROL)}|{NAME_PATTERN}"
#: a seed: a non-negative integer of at most 9 digits
SEED_PATTERN = r"[0-9]{1,9}"

_NAME = re.compile(NAME_PATTERN)
_SEED = re.compile(SEED_PATTERN)
RULE = "letters, digits, '_', '.', '-', starting with a letter or digit, at most 128 characters"


def is_name(value: object) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def check_name(value: object, what: str, fix: str) -> str:
    """``value`` if it is a strict name, else one :class:`UnsafeNameError` naming it, the rule and the fix."""
    if not is_name(value):
        raise UnsafeNameError(f"{what} {value!r} is not a valid name ({RULE}); {fix}")
    return value  # type: ignore[return-value]


def check_seed(value: object, what: str, fix: str) -> int:
    """A seed given as an int or a decimal string, else one :class:`UnsafeNameError`."""
    if isinstance(value, bool) or not (
        (isinstance(value, int) and 0 <= value < 10**9) or (isinstance(value, str) and _SEED.fullmatch(value))
    ):
        raise UnsafeNameError(f"{what} {value!r} is not a seed (a non-negative integer of at most 9 digits); {fix}")
    return int(value)


def check_relative_path(value: object, what: str, fix: str) -> str:
    """A relative path of strict names joined by '/' (a pool's file list), else one error."""
    if not isinstance(value, str) or not value or not all(is_name(p) for p in value.split("/")):
        raise UnsafeNameError(f"{what} {value!r} is not a relative path of valid names ({RULE}, joined by '/'); {fix}")
    return value
