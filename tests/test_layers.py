"""The code's layers: ``wlra_core`` is numerics and data only (no Streamlit, no plotly, nothing
of the dashboard's), and the dashboard's pages share code through ``app_pages``'s shared
modules, never by importing one another."""
import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "wlra_core"
PAGES = ROOT / "app_pages"
APP_ONLY = ("streamlit", "plotly", "app_pages")


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement of ``path`` names, at any depth (lazy imports in
    functions included), relative ones resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def top_level(name: str) -> str:
    return name.split(".")[0]


def test_no_solver_module_imports_the_dashboards_libraries():
    offenders = {str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path)
                                                     if top_level(name) in APP_ONLY)
                 for path in sorted(CORE.rglob("*.py"))}
    assert not {path: names for path, names in offenders.items() if names}
    assert len(offenders) > 30  # the scan saw the package


def test_importing_every_solver_module_loads_no_dashboard_library():
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import wlra_core\n"
        "names = [m.name for m in pkgutil.walk_packages(wlra_core.__path__, 'wlra_core.')"
        " if not m.name.endswith('__main__')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps([len(names), sorted({{m for m in sys.modules if m.split('.')[0] in {APP_ONLY!r}}})]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=True)
    count, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert count > 30 and loaded == []


def test_pages_do_not_import_each_other():
    pages = {path.stem for path in PAGES.glob("*.py") if not path.name.startswith("_")}
    assert {"home", "data", "compare"} <= pages
    for path in sorted(PAGES.glob("*.py")):
        imported_pages = {name.split(".")[1] for name in imported_modules(path)
                          if name.startswith("app_pages.") and name.split(".")[1] in pages}
        assert not imported_pages, f"{path.name} imports the page(s) {sorted(imported_pages)}"
