"""The package's architecture, kept by a test: imports flow one way between the subpackages.

data -> prompting -> affinity -> (analysis, pool) -> cli, with the top-level modules (errors, io,
configuration, code_versions, metrics, runtime) below all of them. A module may import its own
subpackage, the top level and the layers before its own; nothing imports the CLI; analysis and
pool are peers that do not import each other. No private name (``_x``) is imported across modules,
and there is no import cycle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tasktransfer"
TOP = "top"
#: each layer's rank; a module may import layers of lower or equal rank (its own subpackage)
RANK = {TOP: 0, "data": 1, "prompting": 2, "affinity": 3, "analysis": 4, "pool": 4, "cli": 5}
PEERS_APART = {("analysis", "pool"), ("pool", "analysis")}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out[".".join(["tasktransfer", *parts])] = path
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in RANK else TOP


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) of every import of the package in a file, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: relative import; import tasktransfer.... absolutely")
            if node.module and node.module.split(".")[0] == "tasktransfer":
                found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tasktransfer":
                    found.append((alias.name, [], node.lineno))
    return found


def _resolve(module: str, name: str, modules: dict[str, Path]) -> str:
    """``from pkg import mod`` imports the module pkg.mod; otherwise the name lives in ``module``."""
    return f"{module}.{name}" if f"{module}.{name}" in modules else module


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for imported, names, _ in _imports(path):
            for target in {_resolve(imported, n, modules) for n in names} or {imported}:
                if target in modules and target != module:
                    graph[module].add(target)
    return graph


def violations() -> list[str]:
    modules = _modules()
    bad = []
    for module, path in modules.items():
        src_layer = _layer(module)
        for imported, names, line in _imports(path):
            for target in {_resolve(imported, n, modules) for n in names} or {imported}:
                if target not in modules or target == module:
                    continue
                dst_layer = _layer(target)
                where = f"{path.relative_to(PACKAGE)}:{line}"
                if target == "tasktransfer" and names == ["__version__"]:
                    continue
                if RANK[dst_layer] > RANK[src_layer] or (src_layer, dst_layer) in PEERS_APART:
                    bad.append(f"{where}: {src_layer} imports {dst_layer} ({target})")
                if dst_layer == "cli" and src_layer != "cli":
                    bad.append(f"{where}: imports the CLI ({target})")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                bad.append(f"{path.relative_to(PACKAGE)}:{line}: private names {private} from {imported}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_imports_flow_one_way_and_no_private_name_crosses():
    assert violations() == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """A data module importing the CLI, a private name and a cycle are all caught."""
    fake = tmp_path / "tasktransfer"
    for sub in ("data", "cli"):
        (fake / sub).mkdir(parents=True)
        (fake / sub / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "data" / "a.py").write_text("from tasktransfer.cli.b import run, _helper\n")
    (fake / "cli" / "b.py").write_text("from tasktransfer.data.a import x\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = violations()
    assert any("data imports cli" in v for v in found)
    assert any("private names ['_helper']" in v for v in found)
    assert cycles(import_graph()) == [["tasktransfer.cli.b", "tasktransfer.data.a"]]


@pytest.mark.parametrize("module", sorted(m for m in _modules() if m.count(".") == 2))
def test_modules_stay_small(module):
    """A module past ~300 lines is split unless it says why (a line 'size:' in its docstring)."""
    path = _modules()[module]
    text = path.read_text()
    lines = len(text.splitlines())
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert lines <= 420 or "size:" in doc.lower(), f"{path.relative_to(PACKAGE)} has {lines} lines; split it"
