"""The shipped server settings, as Streamlit itself reads them from .streamlit/config.toml."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def effective_config() -> dict[str, str]:
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120, check=True).stdout
    return dict(re.findall(r"^(\w+) = (.+)$", shown, flags=re.MULTILINE))


def test_visitors_never_see_tracebacks_and_the_server_listens_on_loopback_without_a_watcher():
    config = effective_config()
    assert config["showErrorDetails"] == '"none"'  # generic message; details in the server log
    assert config["address"] == '"127.0.0.1"'
    assert config["fileWatcherType"] == '"none"'
    assert config["gatherUsageStats"] == "false"
