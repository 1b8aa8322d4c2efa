"""Hostile inputs through the loader: every file of the corpus (``tests/hostile_corpus.py``),
as a path and as an upload with the upload caps, and as a path with the caps lifted (what the
CLI does with a local file).

A refused file gives one line that names the file and its defect; a file that loads has the
expected shape, one warning per dropped extra, and a complete trained model exactly when the
case says so. The CLI and the Data page pass these messages on; they are tested with one
file per refusal class in test_cli_errors.py and test_page_data_upload.py.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from apptest_helpers import Upload
from hostile_corpus import CASES, CASES_BY_NAME, LOADING_CLASSES, REFUSAL_CLASSES, Case, case_id, npy
from wlra_core.compression import require_model
from wlra_core.datasets.io import load_problem

ROOT = Path(__file__).resolve().parents[1]


def check_message(message: str, case: Case, *, capped: bool) -> None:
    """One line, naming the file at fault, with the defect the case expects."""
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(case.label + ": "), message
    assert re.search(case.expected(capped), message), f"{message!r} does not match {case.expected(capped)!r}"


def check_loaded(problem, case: Case) -> None:
    assert problem.shape == case.shape
    warnings = problem.meta.get("load_warnings", [])
    assert len(warnings) == len(case.warnings), warnings
    for pattern in case.warnings:
        assert any(re.search(pattern, w) and w.startswith(case.name + ": ") for w in warnings), (pattern, warnings)
    assert all("\n" not in w for w in warnings)
    if case.model:
        require_model(problem)
    else:  # compression refuses it with one line naming what is missing
        with pytest.raises(ValueError, match=r"has no trained model|model lacks|model"):
            require_model(problem)


def test_corpus_size():
    """At least 60 files, 40 of them readable oddities or saved problems with bad extras."""
    assert len(CASES) >= 60 and len(CASES_BY_NAME) == len(CASES)
    assert sum(c.loads for c in CASES) >= 40


def test_every_class_has_a_representative_of_its_kind():
    """The CLI and the Data page test one file per class: refused ones and loading ones."""
    for name in REFUSAL_CLASSES.values():
        assert not CASES_BY_NAME[name].loads and CASES_BY_NAME[name].on_disk, name
    for name in LOADING_CLASSES.values():
        assert CASES_BY_NAME[name].loads and CASES_BY_NAME[name].on_disk, name
    assert any(CASES_BY_NAME[n].cli_error for n in REFUSAL_CLASSES.values())  # a message the lifted caps change
    assert any(CASES_BY_NAME[n].weights for n in REFUSAL_CLASSES.values())
    assert {CASES_BY_NAME[n].model for n in LOADING_CLASSES.values()} == {True, False}
    assert any(CASES_BY_NAME[n].warnings for n in LOADING_CLASSES.values())


# (file name, how it is loaded): every file as an upload; the ones written to disk as a path;
# those the CLI may read (no weights file, no gigabytes once the caps are lifted) as a path
# with the caps lifted.
LOADS = ([(c.name, "upload") for c in CASES] + [(c.name, "path") for c in CASES if c.on_disk]
         + [(c.name, "path, caps lifted") for c in CASES if c.on_disk and c.in_cli and not c.weights])


@pytest.mark.parametrize("name, how", LOADS, ids=[f"{case_id(CASES_BY_NAME[n])}-{how}" for n, how in LOADS])
def test_load_problem(name, how, corpus):
    case = CASES_BY_NAME[name]
    caps = {}
    if how == "upload":
        main = Upload(case.name, case.make())
        weights = Upload(case.weights[0], case.weights[1]()) if case.weights else None
    else:
        main, weights = corpus[case.name]
        if how == "path, caps lifted":
            caps = dict(max_bytes=None, max_entries=None)
    if case.loads:
        problem = load_problem(main, weights=weights, **caps)
        check_loaded(problem, case)
        assert (problem.name, problem.source) == expected_name_and_source(case, how == "upload")
        return
    with pytest.raises(ValueError) as info:
        load_problem(main, weights=weights, **caps)
    check_message(str(info.value), case, capped=not caps)


def expected_name_and_source(case: Case, as_upload: bool) -> tuple[str, str]:
    """A saved MLP problem keeps its recorded name and source (unless they were dropped);
    any other file is named after its file(s), a long name shortened around "..."."""
    if case.name.startswith("mlp_"):
        return "toy MLP", "tfds"
    name = case.name if len(case.name) <= 100 else case.name[:60] + "..." + case.name[-37:]
    if case.weights:
        name += " + " + case.weights[0]
    return name, "upload" if as_upload else "file"


def test_upload_names_carry_extensions():
    """A.npy, A.csv and A.mtx are different problems, and so named."""
    a = np.arange(1.0, 7.0).reshape(3, 2)
    text = "1,2\n3,4\n5,6\n"
    named = {load_problem(Upload(name, data)).name for name, data in [
        ("A.npy", npy(a)), ("A.csv", text.encode()),
        ("A.mtx", b"%%MatrixMarket matrix array real general\n3 2\n1\n3\n5\n2\n4\n6\n")]}
    assert named == {"A.npy", "A.csv", "A.mtx"}
    pair = load_problem(Upload("A.csv", text.encode()), weights=Upload("W.csv", text.encode()))
    assert pair.name == "A.csv + W.csv"


# Peak RSS from /proc (VmHWM starts afresh at exec; getrusage's ru_maxrss would inherit the
# pytest process's peak across fork and exec).
MEMORY_PROBE = """
import json, sys, time
sys.path.insert(0, {tests!r})
from apptest_helpers import Upload
from hostile_corpus import CASES_BY_NAME
from wlra_core.datasets.io import load_problem

def peak_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

case = CASES_BY_NAME[{name!r}]
data = case.make()
before = peak_mb()
start = time.perf_counter()
try:
    load_problem(Upload(case.name, data))
    message = None
except ValueError as err:
    message = str(err)
seconds = time.perf_counter() - start
print(json.dumps({{"message": message, "seconds": seconds, "before_mb": before, "peak_mb": peak_mb(),
                   "file_mb": len(data) / 2**20}}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads VmHWM from Linux's /proc")
@pytest.mark.parametrize("name", ["npz_eight_50M_members.npz", "csv_200mb_one_column.csv"])
def test_refusing_big_files_stays_small(name):
    """Peak memory (RSS) of a fresh process refusing the two big files.

    The 3 MB .npz expands to 3.2 GB and the 200 MB CSV would take gigabytes parsed: both
    are refused from headers and counts. The peak includes the interpreter, numpy and, for
    the CSV, its own 200 MB of bytes.
    """
    code = MEMORY_PROBE.format(tests=str(ROOT / "tests"), name=name)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    print(name, result)
    check_message(result["message"], CASES_BY_NAME[name], capped=True)
    assert result["peak_mb"] < 500
    assert result["peak_mb"] - result["before_mb"] < 100  # refusing costs little beyond the file itself
