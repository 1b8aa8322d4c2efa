"""scripts/run_dashboard.sh: the address it tells the user to open is the one the server gets."""
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args, shown", [
    (["--server.port", "8611"], "http://127.0.0.1:8611"),
    (["--server.port=8612", "--server.address", "localhost"], "http://localhost:8612"),
])
def test_launcher_prints_the_port_and_address_it_was_given(args, shown):
    # --help makes streamlit print its usage and exit instead of serving.
    done = subprocess.run(["bash", "scripts/run_dashboard.sh", *args, "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    opened = [line for line in done.stdout.splitlines() if line.startswith("WLRA Explorer: open")]
    assert opened == [f"WLRA Explorer: open {shown}"]
