"""app_pages._preload: what the pages import is imported once per server, after the landing
page is drawn and before any page that draws charts or tables runs."""
import json
import subprocess
import sys
import time

import pytest
from streamlit.testing.v1 import AppTest

from app_pages import _charts, _preload, _views
from apptest_helpers import APP, ROOT


@pytest.fixture
def events(monkeypatch):
    """What happened, in order: the page modules' import ("imports done", taking a while) and
    the pages' own work ("home ran", "compare ran"); a fresh server's import thread."""
    seen = []

    def slow_imports() -> None:
        time.sleep(0.5)
        seen.append("imports done")

    def recorded(name, function):
        def record(*args, **kwargs):
            seen.append(name)
            return function(*args, **kwargs)
        return record

    monkeypatch.setattr(_preload, "_import_all", slow_imports)
    monkeypatch.setattr(_views, "teaching_example", recorded("home ran", _views.teaching_example))
    monkeypatch.setattr(_charts, "compare_figures", recorded("compare ran", _charts.compare_figures))
    _preload.page_modules.clear()
    yield seen
    _preload.page_modules().join()
    _preload.page_modules.clear()  # later sessions start the real imports again


def test_home_does_not_wait_for_the_page_modules_and_compare_does(events):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert events[0] == "home ran"  # the imports start after the landing page is drawn
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    assert events.index("imports done") < events.index("compare ran")


def test_a_page_opened_first_waits_for_the_page_modules(events):
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    assert events[0] == "imports done" and "compare ran" in events


def test_the_page_modules_leave_tensorflow_out():
    code = ("import json, sys\n"
            "from app_pages import _preload\n"
            "_preload._import_all()\n"
            "print(json.dumps([sorted(n for n in _preload.PAGE_MODULES if n not in sys.modules),"
            " sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tensorflow_datasets'))]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    missing, tensorflow = json.loads(done.stdout.strip().splitlines()[-1])
    assert missing == [] and tensorflow == []


def test_objects_of_later_imports_leave_every_later_collection():
    """After a page's imports, the objects they made are frozen out of the garbage collector's
    walks (Streamlit collects after every script run); with nothing imported since, a second
    call freezes nothing more."""
    code = """
import gc
from app_pages import _preload
_preload.freeze_imported_objects()
import pandas, plotly.graph_objects  # a page's imports: hundreds of modules
tracked = len(gc.get_objects())
_preload.freeze_imported_objects()
walked, frozen = len(gc.get_objects()), gc.get_freeze_count()
_preload.freeze_imported_objects()
print(tracked, walked, frozen, gc.get_freeze_count())
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    tracked, walked, frozen, frozen_again = map(int, out.stdout.split())
    assert tracked > 10_000 and walked < tracked / 20, (tracked, walked)
    assert frozen >= 0.9 * (tracked - walked) and frozen_again == frozen
