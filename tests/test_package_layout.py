"""The package's architecture, kept by a test: imports flow one way between the subpackages.

data -> prompting -> affinity -> (analysis, pool) -> cli, with the top-level modules (errors, io,
configuration, code_versions, metrics, runtime) below all of them. A module may import its own
subpackage, the top level and the layers before its own; nothing imports the CLI; analysis and
pool are peers that do not import each other. No private name (``_x``) is imported across modules,
and there is no import cycle between modules.

The tests mirror the package: tests/<subpackage>/ tests that subpackage, tests/workflow/ holds the
tests that run or plan Snakemake, and a test file directly under tests/ tests a top-level module
(or is one of a short list of cross-cutting files, each with its reason).
"""

from __future__ import annotations

import ast
from collections import Counter
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


# --------------------------------------------------------------------------- the tests mirror the package


TESTS = Path(__file__).resolve().parent
#: test folders beside the subpackages' own, and what they hold
OTHER_TEST_DIRS = {
    "workflow": "the tests that run or plan Snakemake (with their helpers and tiny configs)",
    "bench": "the tests of the benchmark scripts in bench/",
}
#: test files directly under tests/ that test no top-level module, each with why it sits there
TOP_EXCEPTIONS = {
    "test_bad_inputs.py": "one bad input per stage, through the command lines of every layer",
    "test_docs.py": "the docs against every module and rule file",
    "test_function_length.py": "every function of the package",
    "test_package_layout.py": "the package's import layers and this mirror of its tests",
    "test_findings_script.py": "scripts/findings.py, no module of the package",
    "test_task_table_script.py": "scripts/task_table.py, no module of the package",
}
#: imported by tests of every layer for its exception classes: it makes no test file a top-level one
INCIDENTAL = {"tasktransfer.errors"}
#: the runners of conftest.py and workflow/novel_run.py: a test that imports one runs or plans Snakemake
SNAKEMAKE_RUNNERS = {"run_snakemake", "snakemake_cmd", "finished_novel_run", "novel_workdir"}


def _subpackages() -> set[str]:
    return {p.parent.name for p in PACKAGE.glob("*/__init__.py")}


def _test_files(tests: Path) -> list[Path]:
    """pytest's test files (test_*.py, *_test.py); conftest.py, helper modules and data folders are none."""
    return sorted(p for p in tests.rglob("*.py") if p.name.startswith("test_") or p.name.endswith("_test.py"))


def _tested_modules(path: Path, modules: dict[str, Path]) -> list[str]:
    """Every package module a test file imports, at module level or inside its tests (once per import)."""
    found = []
    for imported, names, _ in _imports(path):
        found.extend(sorted({_resolve(imported, n, modules) for n in names} or {imported}))
    return found


def _test_layer(module: str, subpackages: set[str]) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in subpackages else TOP


def _runs_snakemake(path: Path) -> bool:
    """It imports a runner of conftest.py or novel_run.py or the snakemake package, or builds a path to
    the Snakefile or the snakemake executable (``root / "Snakefile"``, ``with_name("snakemake")``)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "snakemake" or {a.name for a in node.names} & SNAKEMAKE_RUNNERS:
                return True
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "snakemake" for a in node.names):
            return True
        operands = [node.right] if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) else (
            node.args if isinstance(node, ast.Call) else [])
        if any(isinstance(a, ast.Constant) and a.value in ("Snakefile", "snakemake") for a in operands):
            return True
    return False


def _names_bench(path: Path) -> bool:
    return any(isinstance(node, ast.Constant) and isinstance(node.value, str)
               and (node.value == "bench" or node.value.startswith("bench/"))
               for node in ast.walk(ast.parse(path.read_text())))


def _home(layers: list[str]) -> str:
    """The folder of the subpackage a test file imports most (ties by name), else tests/."""
    counts = Counter(layer for layer in layers if layer != TOP)
    return f"tests/{max(sorted(counts), key=counts.get)}/" if counts else "tests/"


def misplaced_tests(tests: Path | None = None) -> list[str]:
    """Every test file placed unlike its subject, with where it should go."""
    tests = tests or TESTS
    modules, subpackages = _modules(), _subpackages()
    bad = []
    for path in _test_files(tests):
        rel = path.relative_to(tests)
        name = f"tests/{rel.as_posix()}"
        imported = _tested_modules(path, modules)
        layers = [_test_layer(m, subpackages) for m in imported]
        folder = rel.parts[0] if len(rel.parts) > 1 else None
        if folder == "workflow":
            if not _runs_snakemake(path):
                bad.append(f"{name} runs and plans no Snakemake: move it to {_home(layers)}")
        elif _runs_snakemake(path):
            bad.append(f"{name} runs or plans Snakemake: move it (or those tests) to tests/workflow/")
        elif folder is None:
            top = [m for m, layer in zip(imported, layers) if layer == TOP and m not in INCIDENTAL]
            if not top and rel.name not in TOP_EXCEPTIONS:
                where = _home(layers)
                bad.append(f"{name} tests no top-level module: move it to {where}" if where != "tests/" else
                           f"{name} tests no module of the package: move it beside what it tests, or list it "
                           "in TOP_EXCEPTIONS with a one-line reason")
        elif folder in subpackages:
            if folder not in layers:
                bad.append(f"{name} imports no module of tasktransfer.{folder}: move it to {_home(layers)}")
        elif folder == "bench":
            if not _names_bench(path):
                bad.append(f"{name} names no script of bench/: move it to {_home(layers)}")
        elif folder not in OTHER_TEST_DIRS:
            bad.append(f"{name}: tests/{folder}/ mirrors no subpackage of tasktransfer: move it to {_home(layers)}")
    return bad


def test_tests_mirror_the_package():
    """tests/<sub>/ imports tasktransfer.<sub>, tests/workflow/ runs or plans Snakemake and nothing
    else does, tests/ tests the top-level modules (TOP_EXCEPTIONS aside)."""
    assert misplaced_tests() == []


def test_the_mirror_check_can_fail(tmp_path):
    """Each kind of misplaced test file is named with where it should go; helpers are no test files."""
    files = {
        "data/test_plots_here.py": "from tasktransfer.analysis.plots import gain_heatmap\n"
                                   "from tasktransfer.errors import TaskError\n",
        "data/test_lazy.py": "def test_x():\n    from tasktransfer.data import prepare\n",
        "analysis/test_run.py": "from conftest import run_snakemake\nfrom tasktransfer.analysis import plots\n",
        "workflow/test_unit.py": "from tasktransfer.analysis.report_tables import novel_table\n",
        "workflow/test_plan.py": "from conftest import run_snakemake\n",
        "workflow/test_own_runner.py": "from conftest import REPO\nSNAKEFILE = REPO / \"Snakefile\"\n",
        "workflow/helper.py": "from tasktransfer.pool import manifest\n",
        "test_pool_things.py": "from tasktransfer.errors import TaskError\nfrom tasktransfer.pool import manifest\n",
        "test_metrics_here.py": "from tasktransfer import metrics\n",
        "test_docs.py": "import re\n",
        "test_nothing.py": "import re\n",
        "extras/test_training.py": "from tasktransfer.prompting import training\n",
        "bench/test_other.py": "from tasktransfer.data import prepare\n",
        "conftest.py": "from tasktransfer.pool import manifest\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert sorted(misplaced_tests(tmp_path)) == sorted([
        "tests/data/test_plots_here.py imports no module of tasktransfer.data: move it to tests/analysis/",
        "tests/analysis/test_run.py runs or plans Snakemake: move it (or those tests) to tests/workflow/",
        "tests/workflow/test_unit.py runs and plans no Snakemake: move it to tests/analysis/",
        "tests/test_pool_things.py tests no top-level module: move it to tests/pool/",
        "tests/test_nothing.py tests no module of the package: move it beside what it tests, or list it "
        "in TOP_EXCEPTIONS with a one-line reason",
        "tests/extras/test_training.py: tests/extras/ mirrors no subpackage of tasktransfer: "
        "move it to tests/prompting/",
        "tests/bench/test_other.py names no script of bench/: move it to tests/data/",
    ])
