"""The code's layers: importing every module of ``wlra_core`` loads nothing of the dashboard
(tests/test_packaging.py reads its import statements), and the dashboard's pages share code
through ``app_pages``'s shared modules, never by importing one another; the tests likewise
share code only through their helpers."""
import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "app_pages"
APP_ONLY = ("streamlit", "plotly", "app_pages")


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


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement of ``path`` names, at any depth (``from a import b``
    names ``a`` and ``a.b``). The dashboard's modules import absolutely."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}:{node.lineno}: a relative import"
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_pages_do_not_import_each_other():
    pages = {path.stem for path in PAGES.glob("*.py") if not path.name.startswith("_")}
    assert {"home", "data", "compare"} <= pages
    for path in sorted([ROOT / "app.py", *PAGES.glob("*.py")]):
        imported_pages = {name.split(".")[1] for name in imported_modules(path)
                          if name.startswith("app_pages.") and name.split(".")[1] in pages}
        assert not imported_pages, f"{path.name} imports the page(s) {sorted(imported_pages)}"


def test_test_modules_share_code_only_through_the_helpers():
    """Tests share code through conftest.py, apptest_helpers.py and the hostile corpus's
    module, never by importing another test module."""
    tests = ROOT / "tests"
    test_modules = {path.stem for path in tests.glob("test_*.py")}
    assert len(test_modules) > 30
    for path in sorted(tests.glob("*.py")):
        imported = {name.split(".")[0] for name in imported_modules(path)} & (test_modules | {"conftest"})
        assert not imported, f"{path.name} imports the test module(s) {sorted(imported)}"
