"""An interrupted ``bench --out`` (Ctrl-C, SIGTERM, a kill, in the middle of a row): the rows
that finished are in the file, whole, a previous file is replaced only by a whole one, and
the command says so in one line. Run as a user runs it: a subprocess, signals sent to it."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from wlra_core.datasets.io import save_problem
from wlra_core.datasets.synthetic import planted_low_rank
from wlra_core.tables import ROW_FIELDS, CsvFile

REPO = Path(__file__).resolve().parents[1]
PREVIOUS = "a previous run's file\n" * 2000


@pytest.fixture
def files(tmp_path):
    problem = tmp_path / "problem.npz"
    save_problem(planted_low_rank(n=60, d=40, rank=4, weight_rank=2, noise=0.1, seed=1), problem)
    out = tmp_path / "out.csv"
    out.write_text(PREVIOUS)
    return problem, out


def start_bench(problem, out, *extra):
    # em at 300 iterations (no early stop) takes a few tenths of a second per rank here: slow
    # enough to interrupt.
    return subprocess.Popen(
        [sys.executable, "-m", "wlra_core", "bench", str(problem), "--algorithms", "svd,em", "--ranks", "1-12",
         "--option", "em.n_iter=300", "--option", "em.tol=0", "--out", str(out), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def result_lines(process, count: int) -> int:
    """Read stdout until ``count`` result lines were printed (each printed after its row was written)."""
    seen = 0
    while seen < count:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        seen += " rank " in line
    return seen


def whole_rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:  # every column present and every number readable: no half row
        assert list(row) == list(ROW_FIELDS) and None not in row.values()
        float(row["loss"]), int(row["rank"]), float(row["seconds"])
    return rows


@pytest.mark.parametrize("name, code, group", [("SIGINT", 130, True), ("SIGTERM", 143, False)])
def test_an_interrupted_bench_keeps_the_finished_rows(files, name, code, group):
    problem, out = files
    process = start_bench(problem, out)
    printed = result_lines(process, 14)  # svd's 12 ranks and two of em's
    # Ctrl-C in a terminal signals the process group; `kill` signals the process.
    (os.killpg if group else os.kill)(process.pid, getattr(signal, name))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    rows = whole_rows(out)
    assert stderr.splitlines() == [f"interrupted: {len(rows)} rows written to {out}"]
    assert printed <= len(rows) < 24
    assert [(r["algorithm"], r["rank"]) for r in rows[:12]] == [("svd", str(k)) for k in range(1, 13)]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.csv", "problem.npz"]  # no temporary file left


def test_an_interrupt_before_any_row_leaves_the_previous_file(files):
    problem, out = files
    process = start_bench(problem, out, "--algorithms", "em", "--option", "em.n_iter=3000")
    partial = out.with_name(f"out.csv.partial-{process.pid}")
    deadline = time.monotonic() + 60
    while not partial.exists() and time.monotonic() < deadline:  # the run has started
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.splitlines() == [f"interrupted before any row finished: {out} not written"]
    assert out.read_text() == PREVIOUS and not partial.exists()


def test_a_killed_bench_leaves_the_previous_file_as_it_was(files):
    problem, out = files
    process = start_bench(problem, out)
    result_lines(process, 13)
    process.kill()
    process.communicate(timeout=60)
    assert out.read_text() == PREVIOUS


def test_a_row_cut_by_an_interrupt_is_not_written(tmp_path, monkeypatch, make_row):
    """A signal can land after a row's bytes reached the file and before it was counted."""
    out = CsvFile(tmp_path / "out.csv", list(ROW_FIELDS))
    out.add([make_row(rank=1, loss=1.5)])
    fsync = os.fsync

    def interrupted(fd):
        fsync(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        out.add([make_row(rank=2, loss=2.5, message="a message, with a comma\nand a newline")])
    monkeypatch.setattr(os, "fsync", fsync)
    assert out.commit() == tmp_path / "out.csv"
    rows = whole_rows(tmp_path / "out.csv")
    assert [(r["rank"], r["loss"]) for r in rows] == [("1", "1.5")] and out.rows == 1


def test_ctrl_c_on_a_local_dask_cluster_is_one_line(files):
    pytest.importorskip("distributed")
    problem, out = files
    process = start_bench(problem, out, "--scheduler", "local")
    result_lines(process, 12)  # svd's task came back from a worker: the cluster runs
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    rows = whole_rows(out)
    assert stderr.splitlines() == [f"interrupted: {len(rows)} rows written to {out}"]
    assert np.isfinite([float(r["loss"]) for r in rows]).all()
