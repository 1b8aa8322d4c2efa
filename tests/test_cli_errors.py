"""The CLI's refusals: one line ``error: ...`` and exit code 2, never a traceback.

Bad arguments, missing or unreadable paths, and one hostile file per refusal class of the
corpus (``REFUSAL_CLASSES`` in ``tests/hostile_corpus.py``) through each command that takes
a file, plus one file per way a file loads (``LOADING_CLASSES``). Every corpus file's message
itself is checked at the loader, with the caps lifted as the CLI lifts them, in
test_hostile_inputs.py. A few real subprocesses show what a user's terminal shows.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from hostile_corpus import CASES_BY_NAME, LOADING_CLASSES, REFUSAL_CLASSES, Case, mlp_arrays, npz
from wlra_core.cli import UsageError, main, parse_ranks

ROOT = Path(__file__).resolve().parents[1]


def check_message(message: str, case: Case) -> None:
    """One line, naming the file at fault, with the defect the case expects with the caps lifted."""
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(case.label + ": "), message
    assert re.search(case.expected(False), message), f"{message!r} does not match {case.expected(False)!r}"


def test_argument_cases_cover_every_option():
    assert len(ARGUMENT_CASES) >= 40


# The CLI takes no weights file, and would legitimately read the zip bomb with its caps lifted.
CLI_CASES = [name for name in [*REFUSAL_CLASSES.values(), *LOADING_CLASSES.values()]
             if CASES_BY_NAME[name].in_cli and not CASES_BY_NAME[name].weights]
COMMANDS = {
    "info": [],
    "bench": ["--algorithms", "svd", "--ranks", "1", "--trials", "1"],
    "compress": ["--algorithms", "svd", "--ranks", "1"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_commands(name, command, corpus, capsys):
    case = CASES_BY_NAME[name]
    path, _ = corpus[case.name]
    code = main([command, str(path), *COMMANDS[command]])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.splitlines()
    if not case.loads:
        assert code == 2 and len(lines) == 1, err
        assert lines[0].startswith("error: ")
        check_message(lines[0][len("error: "):], case)
        return
    # Loaded: one "warning: ..." line per dropped extra, then the command's own output.
    warnings = [line[len("warning: "):] for line in lines if line.startswith("warning: ")]
    assert len(warnings) == len(case.warnings), err
    if command == "info":
        assert code == 0, err
        assert re.search(rf"^shape\s+{case.shape[0]} x {case.shape[1]}$", out, re.M)
    elif command == "bench":
        assert code == 0, err
    elif case.model:
        assert code == 0, err
        assert "svd" in out
    else:
        # No complete network to put the kernel back into: one clear line, exit 2.
        assert code == 2
        assert lines[-1].startswith("error: problem ") and ("no trained model" in lines[-1]
                                                          or "model lacks" in lines[-1]), err
        assert len(lines) == len(warnings) + 1


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(1)
    good = folder / "good.npz"
    good.write_bytes(npz(A=rng.standard_normal((40, 25)), W=rng.random((40, 25))))
    mlp = folder / "mlp.npz"
    mlp.write_bytes(npz(**mlp_arrays()))
    return {"GOOD": str(good), "MLP": str(mlp), "DIR": str(folder), "MISSING": str(folder / "missing.npz")}


LONG_NAME = "y" * 300 + ".npz"
ARGUMENT_CASES = [
    # (argv with placeholders, regex of the one error line)
    (["bench", "GOOD", "--ranks", "1-100000000"], r"rank must be between 1 and min\(n, d\) = 25, got 100000000"),
    (["bench", "GOOD", "--ranks", "0"], r"rank must be between 1 and min\(n, d\) = 25, got 0"),
    (["bench", "GOOD", "--ranks", "0-3"], r"got 0$"),
    (["bench", "GOOD", "--ranks", "26"], r"min\(n, d\) = 25, got 26"),
    (["bench", "GOOD", "--ranks", "1,,2,26"], r"got 26"),
    (["bench", "GOOD", "--ranks", "99999999999999999999"], r"got 99999999999999999999"),
    (["bench", "GOOD", "--ranks", "5-1"], r"rank range '5-1' is empty"),
    (["bench", "GOOD", "--ranks", "x"], r"cannot read ranks 'x'; use e.g. 1-20 or 5,10,20"),
    (["bench", "GOOD", "--ranks", ""], r"no ranks given"),
    (["bench", "GOOD", "--ranks", ","], r"no ranks given"),
    (["bench", "GOOD", "--ranks", "1e3"], r"cannot read ranks '1e3'"),
    (["bench", "GOOD", "--ranks", "2.5"], r"cannot read ranks '2.5'"),
    (["bench", "GOOD", "--ranks", "-5"], r"cannot read ranks '-5'"),
    (["bench", "GOOD", "--ranks", "1-"], r"cannot read ranks '1-'"),
    (["bench", "GOOD", "--ranks", "9" * 5000], r"cannot read ranks '9{40}'"),
    (["bench", "GOOD", "--ranks"], r"argument --ranks: expected one argument"),
    (["compress", "MLP", "--ranks", "6"], r"rank must be between 1 and min\(n, d\) = 5, got 6"),
    (["compress", "MLP", "--ranks", "0"], r"got 0"),
    (["bench", "GOOD", "--trials", "0"], r"trials must be >= 1, got 0"),
    (["bench", "GOOD", "--trials", "-3"], r"trials must be >= 1, got -3"),
    (["bench", "GOOD", "--trials", "x"], r"argument --trials: invalid int value: 'x'"),
    (["bench", "GOOD", "--trials", "1.5"], r"argument --trials: invalid int value: '1.5'"),
    (["bench", "GOOD", "--seed", "-1"], r"seed must be >= 0, got -1"),
    (["bench", "GOOD", "--seed", "x"], r"argument --seed: invalid int value: 'x'"),
    (["compress", "MLP", "--seed", "-5"], r"seed must be >= 0, got -5"),
    (["fisher", "--dataset", "digits", "--seed", "-1"], r"seed must be >= 0, got -1"),
    (["bench", "GOOD", "--algorithms", ""], r"no algorithms given; choose from svd, "),
    (["bench", "GOOD", "--algorithms", ","], r"no algorithms given"),
    (["bench", "GOOD", "--algorithms", "nope"], r"unknown algorithm 'nope'; choose from svd, "),
    (["bench", "GOOD", "--algorithms", "svd,nope"], r"unknown algorithm 'nope'"),
    (["bench", "GOOD", "--algorithms", "SVD"], r"unknown algorithm 'SVD'"),
    (["compress", "MLP", "--algorithms", "nope"], r"unknown algorithm 'nope'"),
    (["bench", "MISSING", "--algorithms", "nope"], r"unknown algorithm 'nope'"),  # checked before loading
    (["info", "MISSING"], r"missing\.npz: no such file"),
    (["bench", "MISSING"], r"missing\.npz: no such file"),
    (["compress", "MISSING"], r"missing\.npz: no such file"),
    (["info", "DIR"], r": is a directory; expected a file"),
    (["bench", "DIR"], r": is a directory; expected a file"),
    (["info", "/dev/null"], r"null: is not a regular file"),
    (["info", ""], r"\(empty path\): is a directory; expected a file"),
    (["info", "bad\x00name.npz"], r"bad\\x00name\.npz: cannot be opened \(embedded null byte\)"),
    (["info", "DIR/" + LONG_NAME], r"y{60}\.\.\.y{33}\.npz: cannot be opened \(File name too long\)"),
    (["info"], r"the following arguments are required: problem"),
    ([], r"the following arguments are required: command"),
    (["frobnicate"], r"argument command: invalid choice: 'frobnicate'"),
    (["bench", "GOOD", "--bogus"], r"unrecognized arguments: --bogus"),
    (["fisher", "--dataset", "nope"], r"argument --dataset: invalid choice: 'nope'"),
    (["bench", "GOOD", "--algorithms", "svd", "--ranks", "1", "--out", "DIR"], r"Is a directory"),
]


@pytest.mark.parametrize("argv, message", ARGUMENT_CASES, ids=[" ".join(a)[:50] for a, _ in ARGUMENT_CASES])
def test_cli_arguments(argv, message, good_files, capsys):
    argv = [re.sub(r"^(GOOD|MLP|DIR|MISSING)", lambda m: good_files[m.group(1)], a) for a in argv]
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(message, lines[0]), lines[0]


def test_huge_rank_range_is_refused_without_a_list():
    """``1-100000000`` is refused from its bounds, without building a 10^8-element list."""
    tracemalloc.start()
    with pytest.raises(UsageError, match=r"min\(n, d\) = 25, got 100000000"):
        parse_ranks("1-100000000", 25)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100_000
    assert parse_ranks("1-3,5, 10", 10) == [1, 2, 3, 5, 10]


SUBPROCESS_CASES = [
    # (argv with corpus file names, exit code, regex of the stderr's last line)
    (["info", "npy_7tib.npy"], 2, r"^error: npy_7tib\.npy: array of shape \(1000000, 1000000\) \(float64\) needs "
                                  r"7\.3 TiB of memory; only .* is available$"),
    (["compress", "npy_header_unterminated.npy"], 2, r"^error: npy_header_unterminated\.npy: corrupt \.npy header"),
    (["bench", "mlp_complete.npz", "--ranks", "1-100000000"], 2, r"^error: rank must be between 1 and min\(n, d\) = 5"),
    (["bench", "mlp_complete.npz", "--trials", "x"], 2, r"^error: argument --trials: invalid int value: 'x'"),
    (["info", "mlp_every_field_wrong.npz"], 0, r"^warning: mlp_every_field_wrong\.npz: meta field 'image_shape' dropped"),
]


@pytest.mark.parametrize("argv, code, last", SUBPROCESS_CASES, ids=[" ".join(a) for a, _, _ in SUBPROCESS_CASES])
def test_cli_subprocess_has_no_traceback(argv, code, last, corpus):
    """What a user's terminal shows: no traceback, the message as the last (or only) line."""
    argv = [str(corpus[a][0]) if a in corpus else a for a in argv]
    out = subprocess.run([sys.executable, "-m", "wlra_core", *argv], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    lines = out.stderr.strip().splitlines()
    assert re.search(last, lines[-1]), out.stderr
    if code == 2:
        assert len(lines) == 1
    else:  # every dropped field is a warning line; info prints no accuracy it cannot trust
        assert len(lines) == 7 and all(l.startswith("warning: mlp_every_field_wrong.npz: meta field ") for l in lines)
        assert "MLP test accuracy" not in out.stdout and "shape                            12 x 5" in out.stdout
