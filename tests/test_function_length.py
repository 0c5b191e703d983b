"""Functions stay short, kept by a test (issue 26, item 6).

A function or method longer than :data:`LIMIT` lines (``def`` to its last line, docstring
included, decorators not) is split at its natural seams, or says why it reads best whole: a
comment ``# long: <reason>`` on the line directly above its ``def`` (or above its first
decorator), with a reason after the colon.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tasktransfer"
LIMIT = 60
#: the reason comment: '# long:' and at least one word after it
LONG_REASON = re.compile(r"^\s*#\s*long:\s*\S")


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the ``def`` line to the function's last line; decorators are not counted."""
    return node.end_lineno - node.lineno + 1


def _has_reason(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the line directly above the def (or its first decorator) is '# long: <reason>'."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return first >= 2 and bool(LONG_REASON.match(lines[first - 2]))


def long_functions(package: Path = PACKAGE) -> list[str]:
    """'path:line name (N lines)' for each over-long function without a reason, nested ones and
    methods included; paths from the folder above the package (src/tasktransfer/...)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            n = _length(node)
            if n > LIMIT and not _has_reason(lines, node):
                rel = path.relative_to(package.parent.parent).as_posix()
                found.append((rel, node.lineno, f"{rel}:{node.lineno} {node.name} ({n} lines)"))
    return [entry for _, _, entry in sorted(found)]


def test_functions_are_short_or_say_why():
    found = long_functions()
    if found:
        pytest.fail(
            f"{len(found)} function(s) longer than {LIMIT} lines (def to last line, decorators not counted); "
            "split each at its natural seams into small helpers, or put '# long: <reason>' on the line "
            "directly above its def (or its first decorator):\n  " + "\n  ".join(found),
            pytrace=False,
        )


def test_the_check_can_fail_and_accepts_a_reason(tmp_path):
    """A long function is listed; one with a reason, a short one and an empty reason are told apart."""
    pkg = tmp_path / "src" / "tasktransfer"
    pkg.mkdir(parents=True)
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT))  # def + LIMIT lines: one too many
    (pkg / "a.py").write_text(
        f"def too_long():\n{body}\n"
        f"# long: a flat table\n@staticmethod\ndef excused():\n{body}\n"
        f"# long:\ndef empty_reason():\n{body}\n"
        "class C:\n"
        f"    # long: one loop over the rows\n    def method(self):\n    {body.replace(chr(10), chr(10) + '    ').rstrip()}\n"
        "def short():\n    return 1\n"
    )
    lines = (pkg / "a.py").read_text().splitlines()
    assert long_functions(pkg) == [
        f"src/tasktransfer/a.py:1 too_long ({LIMIT + 1} lines)",
        f"src/tasktransfer/a.py:{lines.index('def empty_reason():') + 1} empty_reason ({LIMIT + 1} lines)",
    ]
