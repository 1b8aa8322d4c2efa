"""Shared fixtures: AppTest runs of the dashboard go through app.py as a server's do."""
import pytest
from streamlit.runtime.pages_manager import PagesManager


def legacy_pages_mode(test):
    """Run ``test`` without :func:`server_navigation_mode`."""
    test.legacy_pages_mode = True
    return test


@pytest.fixture(autouse=True)
def server_navigation_mode(request, monkeypatch):
    """Make AppTest runs go through app.py, as a running server's do.

    With a ``pages/`` folder next to app.py, Streamlit starts in its legacy multipage mode
    (the page file runs alone); a server leaves it for good at the first navigation, but
    AppTest re-enters it before every run. pages/_shared.require_frame then reruns through
    app.py, which would swallow each simulated click, so tests start where a server is
    after its first request -- except those decorated with :func:`legacy_pages_mode`.
    """
    if getattr(request.function, "legacy_pages_mode", False):
        return
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
