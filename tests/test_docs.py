"""Docs that cannot drift silently (issue 26, item 7).

Everything here is discovered from the tree, not listed by hand:

- every module of the package (``src/tasktransfer/**/*.py`` but ``__init__``/``__main__``) is named
  in docs/architecture.md's package tree by its file name (``data/pins.py``) and in its
  subpackage's ``__init__.py`` docstring (top-level modules: ``tasktransfer/__init__.py``'s), and
  neither names a module that is gone;
- every relative link (``[text](path)``, ``[text](path#anchor)``, ``[text](#anchor)``) of README.md,
  docs/*.md and config/README.md resolves: the file exists and the anchor is a heading's slug
  under GitHub's rules; no doc points outside the repository (``../shared``);
- the README opens with what the project is, then ``make run`` and ``make test``, and fits two
  screens;
- docs/architecture.md's workflow section names every ``workflow/rules/*.smk`` file and every
  checkpoint of the workflow, and so does the README's short tour.

The checkers are plain functions, tested on small made-up inputs first, so that a test that
cannot fail would show.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tasktransfer"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
README = ROOT / "README.md"
RULES = ROOT / "workflow" / "rules"

README_MAX_LINES = 120
#: the README's opening: a paragraph of at most this many lines under the title ...
README_INTRO_MAX_LINES = 4
#: ... and the fenced block with the two commands ending by this line
README_COMMANDS_BY_LINE = 15


def user_docs() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "config" / "README.md"]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --- Markdown -------------------------------------------------------------------------------------

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def prose_lines(text: str):
    """(line number, line) of every line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
            yield number, line
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            if not line.strip().strip(fence[0]):
                fence = None


def fenced_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of every fenced code block."""
    blocks, current, start, fence = [], [], 0, None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, current, start = match.group(1), [], number
        elif match and match.group(1)[0] == fence[0] and not line.strip().strip(fence[0]):
            blocks.append((start, current))
            fence = None
        else:
            current.append(line)
    return blocks


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: markup dropped, lowercase, every character but letters,
    digits, ``_``, ``-`` and spaces dropped, each space a ``-``."""
    text = LINK.sub(lambda m: m.group(1), heading)
    text = re.sub(r"<[^>]+>", "", text).lower()
    kept = (c for c in text if c in " -" or unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Pc")
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor of a Markdown file: its headings' slugs, duplicates numbered -1, -2, ..."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(text):
        found.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str):
    """(line number, target) of every link outside fenced code blocks and code spans."""
    for number, line in prose_lines(text):
        line = CODE_SPAN.sub(lambda m: "code" if "](" in m.group(2) else m.group(0), line)
        for match in LINK.finditer(line):
            yield number, match.group(2)


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: target: why`` of every relative link of ``path`` that does not resolve."""
    bad = []
    text = path.read_text(encoding="utf-8")
    for number, target in links(text):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto:, ...
            continue
        where = f"{path.relative_to(root).as_posix()}:{number}: ({target})"
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        try:
            dest.relative_to(root.resolve())
        except ValueError:
            bad.append(f"{where}: points outside the repository")
            continue
        if not dest.exists():
            bad.append(f"{where}: no such file {file_part}")
            continue
        if not anchor:
            continue
        if dest.suffix != ".md":
            if not re.fullmatch(r"L\d+(-L\d+)?", anchor):
                bad.append(f"{where}: #{anchor} in a file that is not Markdown")
            continue
        known = anchors(dest.read_text(encoding="utf-8"))
        if anchor not in known:
            near = sorted(a for a in known if anchor.split("-")[0] in a)[:5]
            hint = f"; headings like it: {', '.join('#' + a for a in near)}" if near else ""
            bad.append(f"{where}: no heading #{anchor} in {rel(dest) if root == ROOT else dest.name}{hint}")
    return bad


def section(text: str, title_word: str) -> str:
    """The text of the first heading whose title contains ``title_word``, up to the next heading
    of the same or a higher level (fenced blocks included)."""
    lines = text.splitlines()
    prose = dict(prose_lines(text))
    start = level = None
    for number, line in enumerate(lines, 1):
        match = HEADING.match(line) if number in prose else None
        if not match:
            continue
        if start is None and title_word.lower() in match.group(2).lower():
            start, level = number, len(match.group(1))
        elif start is not None and len(match.group(1)) <= level:
            return "\n".join(lines[start - 1 : number - 1])
    return "" if start is None else "\n".join(lines[start - 1 :])


def names(text: str, words: list[str]) -> list[str]:
    """The words ``text`` does not name (as a whole word)."""
    return [w for w in words if not re.search(rf"(?<![\w.]){re.escape(w)}(?!\w)", text)]


# --- the package ----------------------------------------------------------------------------------


def modules(package: Path = PACKAGE) -> list[Path]:
    """Every module of the package, relative to it (``data/pins.py``, ``errors.py``)."""
    return sorted(
        p.relative_to(package)
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts
    )


def package_tree(text: str) -> tuple[set[str], int]:
    """The modules the package tree names (``data/pins.py``) and the tree's first line.

    The tree is the fenced block that opens with ``src/tasktransfer/``: a directory is a line
    ``name/``, a module a line whose first word is ``name.py`` (its purpose after it), indented
    under its directory; other lines (wrapped purposes) name nothing.
    """
    for start, block in fenced_blocks(text):
        if block and block[0].strip() == "src/tasktransfer/":
            break
    else:
        return set(), 0
    named: set[str] = set()
    stack: list[tuple[int, str]] = []  # the folders the current line is in, with their indents
    entry_indent: dict[int, int] = {}  # per depth, the indent of the entries of its folder
    for line in block[1:]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        depth = len(stack)
        if indent > entry_indent.setdefault(depth, indent):
            continue  # a wrapped purpose, indented under its entry
        entry_indent[depth] = indent
        first = line.split()[0]
        if re.fullmatch(r"\w+/", first):
            stack.append((indent, first[:-1]))
            entry_indent = {d: i for d, i in entry_indent.items() if d <= depth}
        elif re.fullmatch(r"\w+\.py", first):
            named.add("/".join([*(name for _, name in stack), first]))
    return named, start


def docstring_of(init: Path) -> str:
    return ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""


def named_in_docstring(doc: str, module: Path) -> bool:
    """A docstring names a module by its dotted path (``tasktransfer.data.pins``, as ``:mod:``
    writes it), as ````pins```` or as ``pins.py``."""
    dotted = ".".join(["tasktransfer", *module.with_suffix("").parts])
    stem = re.escape(module.stem)
    return bool(
        re.search(rf"(?<![\w.]){re.escape(dotted)}(?![\w.])", doc)
        or re.search(rf"``{stem}``", doc)
        or re.search(rf"(?<![\w.]){stem}\.py\b", doc)
    )


def missing_from_docstrings(package: Path = PACKAGE) -> dict[str, list[str]]:
    """``{__init__.py: [modules it does not name]}``."""
    missing: dict[str, list[str]] = {}
    for module in modules(package):
        init = package / module.parent / "__init__.py"
        if not named_in_docstring(docstring_of(init), module):
            missing.setdefault(init.relative_to(package.parents[1]).as_posix(), []).append(module.as_posix())
    return missing


def stale_in_docstrings(package: Path = PACKAGE) -> list[str]:
    """``:mod:`` references of the ``__init__`` docstrings to modules that do not exist."""
    stale = []
    for init in sorted(package.rglob("__init__.py")):
        for ref in re.findall(r":mod:`~?(tasktransfer(?:\.\w+)*)`", docstring_of(init)):
            parts = ref.split(".")[1:]
            target = package.joinpath(*parts)
            if not (target.with_suffix(".py").exists() or (target / "__init__.py").exists()):
                stale.append(f"{init.relative_to(package.parents[1]).as_posix()}: {ref}")
    return stale


def checkpoints() -> list[str]:
    found = []
    for smk in sorted(RULES.rglob("*.smk")):
        found += re.findall(r"^checkpoint (\w+):", smk.read_text(encoding="utf-8"), flags=re.M)
    return found


# --- the checkers on made-up inputs (so that each can fail) ---------------------------------------


def test_slug_follows_githubs_rules():
    assert slug("The study by design (`make study-design`, `config/study_design.yaml`)") == (
        "the-study-by-design-make-study-design-configstudy_designyaml"
    )
    assert slug("Against cosine_mean: differences with intervals") == "against-cosine_mean-differences-with-intervals"
    assert slug("Selection methods and leave-one-target-out") == "selection-methods-and-leave-one-target-out"
    assert slug("Method − cosine_mean, 95 % [interval]") == "method--cosine_mean-95--interval"
    assert slug("See [the pools](docs/pools.md)") == "see-the-pools"
    assert anchors("# A\n## B\n```\n# not a heading\n```\n## B\n### b\n") == {"a", "b", "b-1", "b-2"}


def test_link_checker_reports_what_is_broken(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## The part (`x.py`)\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n## Here\n\n"
        "[ok](other.md) [ok](other.md#the-part-xpy) [ok](#here) [web](https://example.org/#x)\n"
        "[gone](missing.md) [bad anchor](other.md#the-part) [bad local](#there)\n"
        "`[in code](missing.md)`\n```\n[in a fence](missing.md)\n```\n"
        "[outside](../../shared/data)\n"
    )
    bad = broken_links(page, root=tmp_path)
    assert [b.split(": (")[0] for b in bad] == ["docs/page.md:6"] * 3 + ["docs/page.md:11"]
    assert "no such file missing.md" in bad[0]
    assert "no heading #the-part in other.md" in bad[1]
    assert "no heading #there" in bad[2]
    assert "outside the repository" in bad[3]


def test_package_checks_find_an_undocumented_module(tmp_path):
    package = tmp_path / "src" / "tasktransfer"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text('"""Top: :mod:`tasktransfer.errors` and ``data``."""\n')
    (package / "errors.py").write_text("")
    (package / "data" / "__init__.py").write_text(
        '"""Data.\n\n- :mod:`~tasktransfer.data.pins`: pins\n- :mod:`~tasktransfer.data.gone`: gone\n"""\n'
    )
    (package / "data" / "pins.py").write_text("")
    (package / "data" / "pinsx.py").write_text("")
    assert [m.as_posix() for m in modules(package)] == ["data/pins.py", "data/pinsx.py", "errors.py"]
    assert missing_from_docstrings(package) == {"src/tasktransfer/data/__init__.py": ["data/pinsx.py"]}
    assert stale_in_docstrings(package) == ["src/tasktransfer/data/__init__.py: tasktransfer.data.gone"]
    tree = (
        "```\nsrc/tasktransfer/\n  errors.py      errors\n  data/\n"
        "    pins.py      pins,\n                 errors.py of nothing (a wrapped purpose)\n```\n"
    )
    assert package_tree(tree)[0] == {"errors.py", "data/pins.py"}


# --- the docs themselves --------------------------------------------------------------------------


def test_every_module_is_in_the_architecture_tree():
    named, start = package_tree(ARCHITECTURE.read_text(encoding="utf-8"))
    assert start, "docs/architecture.md has no package tree (a fenced block opening with src/tasktransfer/)"
    where = f"docs/architecture.md:{start}, the package tree"
    actual = {m.as_posix() for m in modules()}
    missing = sorted(actual - named)
    assert not missing, f"{where} lacks {len(missing)} module(s); add a line `NAME.py  purpose` under its folder: " + (
        ", ".join(missing)
    )
    gone = sorted(named - actual)
    assert not gone, f"{where} names modules that do not exist (remove or rename them): {', '.join(gone)}"


def test_every_module_is_in_its_packages_docstring():
    missing = missing_from_docstrings()
    assert not missing, (
        "modules missing from their package's docstring; add a line "
        "`- :mod:`~tasktransfer.PACKAGE.MODULE`: purpose` to:\n"
        + "\n".join(f"  {init}: {', '.join(found)}" for init, found in sorted(missing.items()))
    )
    stale = stale_in_docstrings()
    assert not stale, "docstrings name modules that do not exist:\n  " + "\n  ".join(stale)


@pytest.mark.parametrize("doc", user_docs(), ids=rel)
def test_relative_links_resolve(doc):
    bad = broken_links(doc)
    assert not bad, f"{len(bad)} broken link(s):\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("doc", user_docs(), ids=rel)
def test_docs_do_not_point_at_the_shared_folder(doc):
    hits = [
        f"{rel(doc)}:{n}"
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        if "../shared" in line
    ]
    assert not hits, "a user's clone has no ../shared; name the data folder as DATA_DIR instead: " + ", ".join(hits)


def test_readme_opens_with_what_it_is_then_the_two_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert (
        len(lines) <= README_MAX_LINES
    ), f"README.md has {len(lines)} lines, over {README_MAX_LINES} (two screens): move detail into docs/ and link it"
    assert lines and lines[0].startswith("# "), "README.md must open with its title (`# ...`)"
    rest = lines[1:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    intro = []
    while rest and rest[0].strip():
        intro.append(rest.pop(0))
    assert (
        intro and not FENCE.match(intro[0]) and not HEADING.match(intro[0])
    ), "README.md: under the title, first a short paragraph saying what the project is"
    assert (
        len(intro) <= README_INTRO_MAX_LINES
    ), f"README.md: the opening paragraph has {len(intro)} lines, over {README_INTRO_MAX_LINES}"
    head = "\n".join(lines[:README_COMMANDS_BY_LINE])
    blocks = [
        (start, block) for start, block in fenced_blocks(head) if start + len(block) + 1 <= README_COMMANDS_BY_LINE
    ]
    first_fence = next((n for n, line in enumerate(lines, 1) if FENCE.match(line)), None)
    assert blocks and first_fence == blocks[0][0], (
        f"README.md: a fenced block with `make run` and `make test` must follow the opening paragraph, "
        f"closed by line {README_COMMANDS_BY_LINE}"
    )
    commands = "\n".join(blocks[0][1])
    for command in ("make run", "make test"):
        assert re.search(
            rf"^\s*{command}\b", commands, flags=re.M
        ), f"README.md: the first fenced block lacks `{command}`"


def test_architecture_names_every_stage_file_and_checkpoint():
    workflow = section(ARCHITECTURE.read_text(encoding="utf-8"), "The workflow")
    assert workflow, "docs/architecture.md has no section '## The workflow'"
    stages = sorted(p.name for p in RULES.glob("*.smk"))
    assert stages, "no workflow/rules/*.smk found"
    missing = names(workflow, stages)
    assert not missing, f"docs/architecture.md, '## The workflow': its stage list lacks {', '.join(missing)}"
    found = checkpoints()
    assert found, "no checkpoint found in workflow/rules/*.smk"
    missing = names(workflow, found)
    assert (
        not missing
    ), f"docs/architecture.md, '## The workflow': its data flow lacks the checkpoint(s) {', '.join(missing)}"


def test_readme_tour_names_every_checkpoint():
    tour = section(README.read_text(encoding="utf-8"), "tour")
    assert tour, "README.md has no short tour (a section whose title has 'tour')"
    missing = names(tour, checkpoints())
    assert not missing, f"README.md, the short tour: it lacks the checkpoint(s) {', '.join(missing)}"
