"""Uploads and saved problems: good files of every format, a corpus of bad ones, round trips."""
import io
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from hostile_corpus import toy_mlp_model
from wlra_core import Problem
from wlra_core.compression import mlp_accuracy
from wlra_core.datasets import DEFAULT_PROBLEM_PATH, default_problem, load_problem, save_problem
from wlra_core.linalg import first_singular_mass

REPO = Path(__file__).resolve().parents[1]


class Upload(io.BytesIO):
    """What Streamlit's UploadedFile offers: a BytesIO with a name."""

    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name = name


def npy_bytes(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture
def matrices():
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 4)), rng.random((6, 4))


# ---------------------------------------------------------------------------- good files


def test_npy_without_weights_gets_all_ones(tmp_path, matrices):
    A, _ = matrices
    np.save(tmp_path / "a.npy", A)
    problem = load_problem(tmp_path / "a.npy")
    np.testing.assert_array_equal(problem.A, A)
    np.testing.assert_array_equal(problem.W, np.ones_like(A))
    assert problem.name == "a.npy" and problem.source == "file" and problem.meta["file"] == "a.npy"
    assert problem.model == {}


def test_npz_with_A_and_W(tmp_path, matrices):
    A, W = matrices
    np.savez_compressed(tmp_path / "p.npz", A=A, W=W)
    problem = load_problem(str(tmp_path / "p.npz"))
    np.testing.assert_array_equal(problem.A, A)
    np.testing.assert_array_equal(problem.W, W)


def test_npz_with_one_unnamed_array_is_A(tmp_path, matrices):
    A, _ = matrices
    np.savez(tmp_path / "one.npz", A)  # stored as arr_0
    np.testing.assert_array_equal(load_problem(tmp_path / "one.npz").A, A)


def test_csv_and_whitespace_txt(tmp_path, matrices):
    A, W = matrices
    np.savetxt(tmp_path / "a.csv", A, delimiter=",", fmt="%.17g")
    (tmp_path / "w.txt").write_text(
        "# weights, one row per line\n" + "\n".join(" ".join(f"{v:.17g}" for v in row) for row in W) + "\n"
    )
    problem = load_problem(tmp_path / "a.csv", weights=tmp_path / "w.txt")
    np.testing.assert_array_equal(problem.A, A)
    np.testing.assert_array_equal(problem.W, W)


def test_single_row_and_single_column_csv_are_matrices(tmp_path):
    (tmp_path / "row.csv").write_text("1,2,3\n")
    (tmp_path / "col.csv").write_text("1\n2\n3\n")
    assert load_problem(tmp_path / "row.csv").shape == (1, 3)
    assert load_problem(tmp_path / "col.csv").shape == (3, 1)


def test_matrix_market_coordinate_and_array(tmp_path, matrices):
    A, W = matrices
    sparse_A = A * (np.abs(A) > 0.5)
    scipy.io.mmwrite(tmp_path / "a.mtx", scipy.sparse.coo_array(sparse_A))
    scipy.io.mmwrite(tmp_path / "w.mtx", W)  # dense -> array format
    problem = load_problem(tmp_path / "a.mtx", weights=tmp_path / "w.mtx")
    np.testing.assert_allclose(problem.A, sparse_A, rtol=1e-15, atol=0)
    np.testing.assert_allclose(problem.W, W, rtol=1e-15, atol=0)


def test_upload_objects_like_streamlit(matrices):
    A, W = matrices
    problem = load_problem(Upload("mine.npy", npy_bytes(A)), weights=Upload("weights.npz", npz_bytes(W=W)))
    np.testing.assert_array_equal(problem.A, A)
    np.testing.assert_array_equal(problem.W, W)
    # Named after both files, extensions included: A.npy, A.csv and A.mtx are different problems.
    assert problem.source == "upload" and problem.name == "mine.npy + weights.npz"


def mlp_problem() -> Problem:
    rng = np.random.default_rng(3)
    model = toy_mlp_model(rng)
    meta = {"dataset": "toy", "hidden": 5, "image_shape": [3, 4, 1], "input_scale": 1 / 255,
            "test_accuracy": 0.5, "seed": np.int64(4), "train_loss": np.array([1.0, 0.5])}
    return Problem(rng.standard_normal((12, 5)), rng.random((12, 5)), name="toy MLP", source="tfds",
                   meta=meta, model=model)


def test_mlp_problem_round_trip(tmp_path):
    original = mlp_problem()
    path = save_problem(original, tmp_path / "toy.npz")
    assert not list(tmp_path.glob("*.partial"))
    loaded = load_problem(path)
    np.testing.assert_array_equal(loaded.A, original.A)
    np.testing.assert_array_equal(loaded.W, original.W)
    assert loaded.model.keys() == original.model.keys()
    for key, value in original.model.items():
        assert loaded.model[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded.model[key], value)
    assert loaded.meta == {**json.loads(json.dumps(original.meta, default=lambda v: v.tolist())), "file": "toy.npz"}
    assert loaded.meta["seed"] == 4 and loaded.meta["train_loss"] == [1.0, 0.5]
    assert (loaded.name, loaded.source) == ("toy MLP", "tfds")
    # The stored network evaluates the same after the round trip.
    assert mlp_accuracy(loaded, loaded.A) == mlp_accuracy(original, original.A)
    # Only plain arrays in the file: loadable with allow_pickle=False by numpy itself.
    with np.load(path, allow_pickle=False) as raw:
        assert set(raw.files) >= {"A", "W", "meta", "model_x_test", "model_y_test"}


def test_save_problem_wants_npz(tmp_path):
    with pytest.raises(ValueError, match=r"toy\.npy: problems are saved as \.npz"):
        save_problem(mlp_problem(), tmp_path / "toy.npy")


# ---------------------------------------------------------------------------- bad files


def _pickled_object_npy():
    return "obj.npy", npy_bytes(np.array([[1, "x"], [None, 2]], dtype=object), allow_pickle=True)


def _truncated_zip():
    return "cut.npz", npz_bytes(A=np.ones((50, 50)))[:300]


def _truncated_npy():
    return "cut.npy", npy_bytes(np.ones((50, 50)))[:500]


GOOD_A = np.arange(6.0).reshape(3, 2) + 1

BAD_FILES = {
    # case: (make main file, make weights file or None, expected message: "<file at fault>: ...")
    "pickled object array": (_pickled_object_npy, None, "obj.npy: holds pickled Python objects"),
    "raw pickle": (lambda: ("trap.npy", pickle.dumps({"A": [1, 2]})), None,
                   "trap.npy: is a Python pickle; pickles are never loaded"),
    "pickled array inside npz": (lambda: ("obj.npz", npz_bytes(A=np.array([[1, None]], dtype=object))), None,
                                 "obj.npz (array 'A'): holds pickled Python objects"),
    "all-NaN csv": (lambda: ("nan.csv", b"nan,nan\nnan,nan\n"), None, "nan.csv: A is all NaN"),
    "Inf in npy": (lambda: ("inf.npy", npy_bytes(np.array([[1.0, np.inf]]))), None, "inf.npy: A has 1 infinite"),
    "negative weights": (lambda: ("neg.npz", npz_bytes(A=GOOD_A, W=-np.ones((3, 2)))), None,
                         "neg.npz: W has 6 negative entries; weights must be >= 0"),
    "all-zero W": (lambda: ("zero.npz", npz_bytes(A=GOOD_A, W=np.zeros((3, 2)))), None, "zero.npz: W is all zeros"),
    "shape mismatch": (lambda: ("a.npy", npy_bytes(GOOD_A)), lambda: ("w.npy", npy_bytes(np.ones((2, 3)))),
                       "a.npy + w.npy: W has shape (2, 3) but A has shape (3, 2)"),
    "non-numeric csv": (lambda: ("words.csv", b"1,2,3\n4,abc,6\n"), None,
                        "words.csv: line 2: 'abc' is not a number; expected only numbers separated by commas"),
    "header row": (lambda: ("head.csv", b"x,y\n1,2\n"), None, "head.csv: line 1: 'x' is not a number"),
    "ragged csv": (lambda: ("ragged.csv", b"1,2,3\n4,5,6\n7,8\n"), None,
                   "ragged.csv: ragged rows: line 3 has 2 values but line 1 has 3"),
    "ragged whitespace txt": (lambda: ("ragged.txt", b"1 2\n3 4 5\n"), None,
                              "ragged.txt: ragged rows: line 2 has 3 values but line 1 has 2; expected only "
                              "numbers separated by whitespace"),
    "empty file": (lambda: ("empty.csv", b""), None, "empty.csv: file is empty"),
    "only comments": (lambda: ("blank.txt", b"# nothing\n\n"), None, "blank.txt: contains no numbers"),
    "binary csv": (lambda: ("bin.csv", b"\xff\xfe\x00\x81garbage"), None, "bin.csv: is not a text file"),
    "1-D array": (lambda: ("vec.npy", npy_bytes(np.arange(5.0))), None, "vec.npy: A must be a 2-D matrix, got 1-D"),
    "3-D array": (lambda: ("cube.npy", npy_bytes(np.ones((2, 2, 2)))), None,
                  "cube.npy: A must be a 2-D matrix, got 3-D with shape (2, 2, 2)"),
    "complex npy": (lambda: ("cplx.npy", npy_bytes(np.ones((2, 2)) * 1j)), None,
                    "cplx.npy: A is complex; only real matrices are supported"),
    "strings npy": (lambda: ("str.npy", npy_bytes(np.array([["a", "b"]]))), None,
                    "str.npy: A must be numeric, got dtype <U1"),
    "unknown extension": (lambda: ("sheet.xlsx", b"PK"), None,
                          "sheet.xlsx: unsupported file type '.xlsx'; expected .npy, .npz, .csv, .txt or .mtx"),
    "no extension": (lambda: ("matrix", b"1,2"), None, "matrix: unsupported file type '(no extension)'"),
    "corrupt npz": (lambda: ("junk.npz", b"this is not a zip archive at all"), None,
                    "junk.npz: not a readable .npz archive"),
    "truncated npz": (_truncated_zip, None, "cut.npz: not a readable .npz archive"),
    "truncated npy": (_truncated_npy, None, "cut.npy: truncated or corrupt .npy data"),
    "not npy": (lambda: ("text.npy", b"1,2,3\n"), None, "text.npy: is not a NumPy .npy file"),
    "npz without A": (lambda: ("named.npz", npz_bytes(X=GOOD_A, Y=GOOD_A)), None,
                      "named.npz: no array named 'A' (found X, Y); expected arrays A and optional W"),
    "npz with W only": (lambda: ("wonly.npz", npz_bytes(W=GOOD_A)), None, "wonly.npz: no array named 'A' (found W)"),
    "W twice": (lambda: ("both.npz", npz_bytes(A=GOOD_A, W=GOOD_A)), lambda: ("w.npy", npy_bytes(GOOD_A)),
                "both.npz: already contains W, and weights file w.npy was given too"),
    "truncated mtx header": (lambda: ("bad.mtx", b"%%MatrixMarket matrix coordinate real general\n3 3\n"), None,
                             "bad.mtx: not a readable Matrix Market file"),
    "truncated mtx data": (lambda: ("short.mtx", b"%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1\n"),
                           None, "short.mtx: corrupt Matrix Market data (Truncated file"),
    "mtx index out of range": (lambda: ("oob.mtx", b"%%MatrixMarket matrix coordinate real general\n3 3 1\n5 5 1\n"),
                               None, "oob.mtx: corrupt Matrix Market data (Line 3: Row index out of bounds)"),
    "mtx integer overflow": (
        lambda: ("big.mtx", b"%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 99999999999999999999999\n"),
        None, "big.mtx: corrupt Matrix Market data"),
    "garbage mtx": (lambda: ("junk.mtx", b"hello world\n"), None, "junk.mtx: not a readable Matrix Market file"),
    "complex mtx": (lambda: ("cplx.mtx", b"%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1.0 2.0\n"),
                    None, "cplx.mtx: A is complex"),
    "negative weights from second csv": (lambda: ("a.csv", b"1,2\n3,4\n"), lambda: ("w.csv", b"1,-2\n3,4\n"),
                                         "a.csv + w.csv: W has 1 negative entries; weights must be >= 0"),
    # With a weights file, each matrix's own defects name its file; defects of the pair name both.
    "NaN in the weights file": (lambda: ("a.csv", b"1,2\n3,4\n"), lambda: ("w.csv", b"1,nan\n3,4\n"),
                                "w.csv: W has 1 NaN/Inf entries (first at row 0, column 1)"),
    "1-D weights file": (lambda: ("a.csv", b"1,2\n3,4\n"), lambda: ("w.npy", npy_bytes(np.ones(4))),
                         "w.npy: W must be a 2-D matrix, got 1-D with shape (4,)"),
    "bad A with a good weights file": (lambda: ("a.csv", b"1,2\n3,inf\n"),
                                       lambda: ("w.npy", npy_bytes(np.ones((2, 2)))),
                                       "a.csv: A has 1 infinite entries (first at row 1, column 1)"),
    "weight on a NaN of A": (lambda: ("a.csv", b"1,2\n3,nan\n"), lambda: ("w.npy", npy_bytes(np.ones((2, 2)))),
                             "a.csv + w.npy: W gives a nonzero weight to 1 entries where A is NaN"),
    "all-zero weights file": (lambda: ("a.csv", b"1,2\n3,4\n"), lambda: ("w.csv", b"0,0\n0,0\n"),
                              "a.csv + w.csv: W is all zeros"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
@pytest.mark.parametrize("as_upload", [False, True], ids=["path", "upload"])
def test_bad_file_messages(case, as_upload, tmp_path):
    make_main, make_weights, expected = BAD_FILES[case]

    def materialise(make):
        name, data = make()
        if as_upload:
            return name, Upload(name, data)
        (tmp_path / name).write_bytes(data)
        return name, tmp_path / name

    _, main = materialise(make_main)
    weights = materialise(make_weights)[1] if make_weights else None
    with pytest.raises(ValueError) as info:
        load_problem(main, weights=weights)
    message = str(info.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_bad_meta_is_dropped_with_a_warning():
    # Extras never decide whether a file loads (wlra_core.datasets.saved): A and W do.
    problem = load_problem(Upload("meta.npz", npz_bytes(A=GOOD_A, meta=np.array("{not json"))))
    np.testing.assert_array_equal(problem.A, GOOD_A)
    assert problem.meta["file"] == "meta.npz"
    (warning,) = problem.meta["load_warnings"]
    assert warning.startswith("meta.npz: array 'meta' dropped: not valid JSON")


def test_a_load_checks_each_matrix_once(monkeypatch, tmp_path, matrices):
    """The checks (NaN/Inf, sign, scale) are one pass over A and W together: each matrix of
    a 67500 x 1024 problem is read once on load, not once per check."""
    from wlra_core import problem as problem_module

    A, W = matrices
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "w.npy", W)
    scans = []
    scan = problem_module._scan

    def counting(A, W, *args):
        scans.append((A.shape, None if W is None else W.shape))
        return scan(A, W, *args)

    monkeypatch.setattr(problem_module, "_scan", counting)
    loaded = load_problem(tmp_path / "a.npy", weights=tmp_path / "w.npy")
    assert scans == [(A.shape, W.shape)]
    np.testing.assert_array_equal(loaded.A, A)
    np.testing.assert_array_equal(loaded.W, W)
    assert loaded.name == "a.npy + w.npy" and loaded.source == "file" and loaded.meta == {"file": "a.npy"}
    assert loaded.normalized.shape == A.shape and len(scans) == 1  # scaling reuses what that pass found


def test_a_huge_json_integer_in_meta_is_dropped_not_a_crash():
    """JSON integers of hundreds of digits do not fit a float: the field is dropped with a
    warning, never an OverflowError out of the loader (a traceback in the CLI)."""
    huge = "1" + "0" * 400
    meta = '{"test_accuracy": %s, "input_scale": %s, "hidden": %s}' % (huge, huge, huge)
    problem = load_problem(Upload("huge.npz", npz_bytes(A=GOOD_A, meta=np.array(meta))))
    assert problem.meta["hidden"] == 10**400  # an integer >= 1, however large
    assert "test_accuracy" not in problem.meta and "input_scale" not in problem.meta
    accuracy, scale = problem.meta["load_warnings"]
    assert accuracy.startswith("huge.npz: meta field 'test_accuracy' dropped: 1000")
    assert accuracy.endswith(" is not a number between 0 and 1 or null")
    assert scale.startswith("huge.npz: meta field 'input_scale' dropped: 1000")
    assert scale.endswith(" is not a number > 0")


def test_size_caps_are_checked_before_reading(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((100, 100)))
    with pytest.raises(ValueError, match=r"big\.npy: array of shape \(100, 100\) has 10,000 entries; the limit is 9,999"):
        load_problem(tmp_path / "big.npy", max_entries=9_999)
    with pytest.raises(ValueError, match=r"big\.npy: file is 80,128 bytes; the limit is 1,000 bytes"):
        load_problem(tmp_path / "big.npy", max_bytes=1000)
    with pytest.raises(ValueError, match=r"huge\.csv: file is 3\.0 MiB; the limit is 2\.0 MiB"):
        load_problem(Upload("huge.csv", b"1" * 3 * 2**20), max_bytes=2 * 2**20)
    with pytest.raises(ValueError, match="the limit is 10 entries"):
        load_problem(Upload("big.mtx", b"%%MatrixMarket matrix array real general\n4 4\n" + b"1\n" * 16), max_entries=10)
    # A compressed npz expanding beyond the cap (a "zip bomb") is refused from its header.
    np.savez_compressed(tmp_path / "bomb.npz", A=np.zeros((2000, 2000)))
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    with pytest.raises(ValueError, match="has 4,000,000 entries"):
        load_problem(tmp_path / "bomb.npz", max_entries=1_000_000)
    assert load_problem(tmp_path / "big.npy", max_entries=None, max_bytes=None).shape == (100, 100)


def test_missing_path(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.npy: no such file"):
        load_problem(tmp_path / "nope.npy")


# ---------------------------------------------------------------------------- shipped problem


def test_default_problem_is_the_real_fashion_mnist_mlp():
    assert DEFAULT_PROBLEM_PATH == REPO / "data" / "fashion_mnist_mlp.npz"
    assert DEFAULT_PROBLEM_PATH.stat().st_size < 11 * 2**20  # 5.3 MiB network + test set, 4.6 MiB moments
    problem = default_problem()
    assert problem.source == "shipped"
    assert problem.shape == (784, 128) and problem.A.dtype == np.float64
    x_test, y_test = problem.model["x_test"], problem.model["y_test"]
    assert x_test.shape == (10000, 784) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and np.array_equal(np.bincount(y_test), np.full(10, 1000))
    meta = problem.meta
    assert meta["dataset"] == "fashion_mnist" and meta["hidden"] == 128 and meta["n_train"] == 60000
    assert meta["image_shape"] == [28, 28, 1] and meta["input_scale"] == pytest.approx(1 / 255)
    # The recorded accuracy is reproduced by an independent numpy forward pass.
    assert mlp_accuracy(problem, problem.A) == pytest.approx(meta["test_accuracy"], abs=2e-4)
    assert meta["test_accuracy"] > 0.8
    assert (problem.W >= 0).all()
    # Table 2 of the paper: nearly all of the Fisher's mass is in its first singular value.
    assert first_singular_mass(problem.W) > 0.9


def test_default_problem_loads_without_tensorflow():
    code = (
        "import sys; from wlra_core.datasets import default_problem; p = default_problem(); "
        "assert p.shape == (784, 128); "
        "assert not {'tensorflow', 'keras', 'tensorflow_datasets'} & set(sys.modules), sorted(sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
