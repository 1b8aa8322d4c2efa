"""Packaging: wlra_core's import graph, and ``pip install .`` giving a working ``wlra``.

The import graph is read from the source with ``ast`` (module- and function-level
imports alike), so a cycle through a lazy import inside a function counts: it is still
two modules that cannot be understood, tested or removed one without the other.
Imports made by ``importlib.import_module`` (the algorithm registry) are not edges.
"""
from __future__ import annotations

import ast
import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "wlra_core"
# Third-party packages wlra_core may import when a module is imported (pyproject's
# dependencies); everything else (TensorFlow, Dask, scikit-learn...) is imported lazily
# inside the function that needs it.
CORE_DEPENDENCIES = {"numpy", "scipy"}
# The one module that imports an optional package at its top: the scikit-learn estimator
# subclasses scikit-learn's BaseEstimator (the `estimator` extra). `import wlra_core` loads it
# only when wlra_core.WeightedLowRank is first used.
OPTIONAL_AT_MODULE_LEVEL = {"wlra_core/estimator.py": {"sklearn"}}


# ------------------------------------------------------------------------- import graph


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of ``package`` under ``root``."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_edges(module: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """Modules of the package that importing or running ``module`` imports -> first line.

    ``import a.b.c`` and ``from a.b import x`` execute ``a``, ``a.b`` (and ``a.b.c``), so
    each is an edge, except ``module``'s own enclosing packages: they are always
    initialised before ``module`` and stay out of the graph unless ``module`` takes names
    from them (``from . import name``). ``from pkg import sub`` with ``pkg.sub`` a module
    is an edge to ``pkg.sub``.
    """
    enclosing = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    enclosing.add(module)
    is_package = path.name == "__init__.py"
    edges: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        if target in modules and target != module:
            edges.setdefault(target, line)

    def add_executed(name: str, line: int) -> None:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix not in enclosing:
                add(prefix, line)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add_executed(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = resolve_relative(module, is_package, node.level, node.module)
            add_executed(source, node.lineno)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules:
                    add(submodule, node.lineno)
                elif source in enclosing:
                    add(source, node.lineno)
    return edges


def import_graph(root: Path, package: str) -> dict[str, dict[str, int]]:
    """module -> {imported module of the same package: line of the first import}."""
    modules = module_files(root, package)
    return {name: import_edges(name, path, modules) for name, path in modules.items()}


def strongly_connected_components(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm; components in a deterministic order, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def shortest_cycle(graph: dict[str, dict[str, int]], start: str, members: set[str]) -> list[str]:
    """Shortest ``[start, ..., start]`` within ``members`` (breadth-first)."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    return paths[node] + [start]
                if nxt in members and nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    next_frontier.append(nxt)
        frontier = next_frontier
    raise ValueError(f"{start} is on no cycle within {sorted(members)}")


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle ``[m0, m1, ..., m0]`` per strongly connected component."""
    return [shortest_cycle(graph, component[0], set(component))
            for component in strongly_connected_components(graph) if len(component) > 1]


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, int]], modules) -> str:
    steps = [cycle[0]]
    for src, dst in zip(cycle, cycle[1:]):
        where = modules[src].relative_to(REPO).as_posix()
        steps.append(f"{dst} ({where}:{graph[src][dst]})")
    return " -> ".join(steps)


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_import_graph_reads_relative_absolute_and_lazy_imports(tmp_path):
    write_package(tmp_path, {
        "pkg/__init__.py": "from .a import f\n",
        # `from . import b`: b is a submodule (edge to pkg.b, none to pkg); a lazy import
        # of a subpackage's module executes the subpackage too.
        "pkg/a.py": "from . import b\n\ndef f():\n    from .sub import deep\n    import json\n",
        # A name taken from the package being initialised: an edge to pkg.
        "pkg/b.py": "import os\nfrom pkg import VERSION\n",
        "pkg/sub/__init__.py": "",
        # Two dots climb to pkg; `import pkg.sub` only names deep's enclosing packages.
        "pkg/sub/deep.py": "from ..b import x\nimport pkg.sub\n",
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.a": 1},
        "pkg.a": {"pkg.b": 1, "pkg.sub": 4, "pkg.sub.deep": 4},
        "pkg.b": {"pkg": 2},
        "pkg.sub": {},
        "pkg.sub.deep": {"pkg.b": 1},
    }
    assert import_cycles(graph) == [["pkg", "pkg.a", "pkg.b", "pkg"]]
    del graph["pkg.b"]["pkg"]
    assert import_cycles(graph) == []


def test_wlra_core_has_no_import_cycles():
    modules = module_files(REPO, PACKAGE)
    graph = import_graph(REPO, PACKAGE)
    assert graph[PACKAGE], "no edges from wlra_core/__init__.py: the graph was not read"
    cycles = [describe_cycle(c, graph, modules) for c in import_cycles(graph)]
    assert not cycles, "import cycles in wlra_core:\n" + "\n".join(cycles)


def imports_of(tree: ast.AST, *, module_level_only: bool):
    """(absolute top-level name or None for relative, line) of every import in ``tree``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom):
            yield (node.module.split(".")[0] if node.level == 0 else None), node.lineno
        if module_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # runs when called, not when the module is imported
        todo.extend(ast.iter_child_nodes(node))


def package_imports(module_level_only: bool) -> list[tuple[str, str]]:
    """(top-level imported name, "file:line") over every module of wlra_core."""
    found = []
    for path in module_files(REPO, PACKAGE).values():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for name, line in imports_of(tree, module_level_only=module_level_only):
            if name is not None:
                found.append((name, f"{path.relative_to(REPO).as_posix()}:{line}"))
    return found


def test_wlra_core_never_imports_the_dashboards_libraries():
    # Lazy imports included: the solver package is numerics and data only.
    offenders = [f"{name} at {where}" for name, where in package_imports(module_level_only=False)
                 if name in ("streamlit", "plotly", "app_pages")]
    assert not offenders, f"wlra_core imports the dashboard's libraries: {', '.join(offenders)}"


def test_module_level_imports_are_stdlib_numpy_or_scipy():
    allowed = set(sys.stdlib_module_names) | CORE_DEPENDENCIES | {PACKAGE}
    found = package_imports(module_level_only=True)
    assert {"numpy", "scipy"} <= {name for name, _ in found}
    offenders = [f"{name} at {where}" for name, where in found
                 if name not in allowed | OPTIONAL_AT_MODULE_LEVEL.get(where.split(":")[0], set())]
    assert not offenders, (
        "import these lazily inside the function that uses them (not core dependencies): "
        + "; ".join(offenders)
    )


# ------------------------------------------------------------------- pip install . in a venv


def copy_project(dest: Path) -> None:
    """The checkout without git, venvs, data and build output: what ``pip install .`` sees."""
    skip_at_root = {"data", "build", "dist"}

    def ignore(folder, names):
        at_root = Path(folder) == REPO
        return [n for n in names if n in ("__pycache__", "artifacts") or n.endswith((".pyc", ".egg-info"))
                or (at_root and (n.startswith(".") or n in skip_at_root))]

    shutil.copytree(REPO, dest, ignore=ignore)


def bench_lines(stdout: str) -> dict[tuple[str, int], float]:
    """(algorithm, rank) -> relative loss from ``wlra bench``'s progress lines."""
    pattern = re.compile(r"^\s*(\S+)\s+rank\s+(\d+)\s+trial\s+0: relative loss ([0-9.]+)", re.M)
    return {(m[1], int(m[2])): float(m[3]) for m in pattern.finditer(stdout)}


def info_value(stdout: str, key: str) -> str:
    line = next(line for line in stdout.splitlines() if line.startswith(key + " "))
    return line[len(key):].strip()


@pytest.mark.slow
def test_pip_install_gives_a_working_wlra_command_without_extras(tmp_path):
    source, venv = tmp_path / "source", tmp_path / "venv"
    copy_project(source)  # a copy: the build writes build/ and *.egg-info next to it
    # No pip inside the venv (ensurepip alone takes ~10 s): this interpreter's pip installs
    # into it with --python. The build backend comes from pip's isolated build env.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile",
         "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]

    def run(*args):
        # cwd outside the source tree: only the installed copy is importable.
        return subprocess.run([str(a) for a in args], cwd=tmp_path, capture_output=True, text=True,
                              env=env, timeout=300)

    located = run(python, "-c", "import wlra_core; print(wlra_core.__file__)")
    assert Path(located.stdout.strip()).is_relative_to(venv), located.stdout + located.stderr
    for extra in ("tensorflow", "streamlit", "sklearn"):
        missing = run(python, "-c", f"import {extra}")
        assert f"No module named '{extra}'" in missing.stderr, (extra, missing.stderr)
    estimator = run(python, "-c", "import wlra_core; wlra_core.WeightedLowRank")
    assert "WeightedLowRank needs scikit-learn: pip install 'wlra-core[estimator]'" in estimator.stderr, estimator.stderr
    # The wheel holds every module of wlra_core (subpackages included) and nothing else.
    record = next((venv / "lib").glob("python3*/site-packages/wlra_core-*.dist-info/RECORD"))
    installed = {line.split(",")[0] for line in record.read_text().splitlines()}
    top_level = {p.split("/")[0] for p in installed if ".dist-info" not in p and not p.startswith("..")}
    assert top_level == {PACKAGE}
    sources = {p.relative_to(REPO).as_posix() for p in module_files(REPO, PACKAGE).values()}
    assert {p for p in installed if p.endswith(".py")} == sources

    rng = np.random.default_rng(3)
    u = rng.random(12) + 0.5
    u[:2] = 0  # two zero rows of W
    W = np.outer(u, rng.random(8) + 0.5)  # rank 1: svd_w is optimal
    A = rng.standard_normal((12, 8))
    problem = tmp_path / "problem.npz"
    np.savez(problem, A=A, W=W)

    info = run(bindir / "wlra", "info", problem)
    assert info.returncode == 0, info.stderr
    assert info_value(info.stdout, "shape") == "12 x 8"
    assert info_value(info.stdout, "zero rows of W") == "2"
    assert info_value(info.stdout, "numerical rank of W") == "1"

    # Oracles in NumPy. svd: truncated SVD of A, scored with the weights. svd_w with a rank-1
    # W: the weighted optimum, whose loss is the tail of W o A's squared singular values.
    mass = np.sum((W * A) ** 2)
    U, s, Vt = np.linalg.svd(A)
    s_wa = np.linalg.svd(W * A, compute_uv=False)
    expected = {}
    for k in (1, 2):
        A_k = (U[:, :k] * s[:k]) @ Vt[:k]
        expected["svd", k] = np.sum((W * (A - A_k)) ** 2) / mass
        expected["svd_w", k] = np.sum(s_wa[k:] ** 2) / mass

    out_csv = tmp_path / "rows.csv"
    bench = run(bindir / "wlra", "bench", problem, "--algorithms", "svd,svd_w", "--ranks", "1-2",
                "--out", out_csv)
    assert bench.returncode == 0, bench.stderr
    printed = bench_lines(bench.stdout)
    assert printed.keys() == expected.keys()
    for key, value in printed.items():
        assert value == pytest.approx(expected[key], abs=5e-7), key  # printed to 6 decimals
    rows = list(csv.DictReader(out_csv.open()))
    assert {(r["algorithm"], int(r["rank"])): float(r["relative_loss"]) for r in rows} == pytest.approx(expected, rel=1e-9)
    assert f"wrote 4 rows to {out_csv}" in bench.stdout

    # The default algorithm list runs without any extra installed.
    default = run(bindir / "wlra", "bench", problem, "--ranks", "1-2", "--out", out_csv)
    assert default.returncode == 0, default.stderr
    rows = list(csv.DictReader(out_csv.open()))
    defaults = run(python, "-c", "from wlra_core.cli import build_parser; "
                   "print(build_parser().parse_args(['bench', 'x']).algorithms)")
    assert defaults.returncode == 0, defaults.stderr
    names = defaults.stdout.strip().split(",")
    assert sorted((r["algorithm"], r["rank"]) for r in rows) == sorted((n, k) for n in names for k in "12")
    assert [r for r in rows if r["failed"] != "False"] == []

    # The console script passes main()'s exit code on: a bad input is one line and code 2.
    bad = run(bindir / "wlra", "info", tmp_path / "missing.npz")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1, bad.stderr
