"""Communication: bits counted from real payloads, Bob's reconstruction, the lower bound."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

import wlra_core
from wlra_core import communication
from wlra_core.communication import bits, lower_bound, protocol
from wlra_core.communication import (
    BitReader,
    BitWriter,
    Setting,
    bits_table,
    block_diagonal_mask,
    field_widths,
    lower_bound_instance,
    lower_bound_solution,
    make_instance,
    protocol_bits_bound,
    raw_bits,
    recover_dense,
    run_protocol,
    serialized_bits_bound,
)
from wlra_core.communication.bits import read_floats, read_sparse_columns, write_floats, write_sparse_columns
from wlra_core.linalg import divide_by_weights, numerical_rank, tail_mass


def clog2(x):
    return math.ceil(math.log2(x)) if x > 1 else 0


def test_bit_packing_round_trip_at_every_width():
    rng = np.random.default_rng(0)
    for width in (1, 3, 16, 33, 64):
        values = rng.integers(0, 2**min(width, 62), size=50, dtype=np.uint64)
        if width == 64:
            values[0] = np.uint64(2**64 - 1)
        writer = BitWriter()
        writer.write(values, width)
        writer.write([1], 1)
        payload = writer.to_bytes()
        assert writer.n_bits == 50 * width + 1
        assert len(payload) == math.ceil(writer.n_bits / 8)
        reader = BitReader(payload)
        np.testing.assert_array_equal(reader.read(50, width), values)
        assert reader.read(1, 1)[0] == 1
    with pytest.raises(ValueError, match="does not fit"):
        BitWriter().write([8], 3)


@pytest.mark.parametrize("width", [16, 32, 64])
def test_sparse_columns_and_floats_round_trip(width):
    rng = np.random.default_rng(1)
    A = rng.integers(-(2 ** (width - 1)), 2 ** (width - 1) - 1, size=(9, 7), dtype=np.int64)
    A[rng.random(A.shape) < 0.5] = 0
    X = rng.standard_normal((3, 7))
    widths = field_widths(9, 7, width)
    writer = BitWriter()
    write_sparse_columns(writer, A, [1, 4, 6], widths)
    write_floats(writer, X, width)
    reader = BitReader(writer.to_bytes())
    columns, dense = read_sparse_columns(reader, 9, widths)
    np.testing.assert_array_equal(columns, [1, 4, 6])
    np.testing.assert_array_equal(dense, A[:, [1, 4, 6]])
    dtype = {16: np.float16, 32: np.float32, 64: np.float64}[width]
    np.testing.assert_array_equal(read_floats(reader, X.shape, width), X.astype(dtype).astype(np.float64))


@pytest.mark.parametrize("width", [16, 32])
def test_sparse_column_values_outside_the_field_are_refused_not_wrapped(width):
    """A value outside the signed ``width``-bit range is refused: masked to ``width`` bits it
    would read back as another number (2**15 as -2**15 at 16 bits)."""
    widths = field_widths(4, 3, width)
    low, high = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    edge = np.zeros((4, 3), dtype=np.int64)
    edge[:2, 1] = low, high
    writer = BitWriter()
    write_sparse_columns(writer, edge, [1], widths)
    np.testing.assert_array_equal(read_sparse_columns(BitReader(writer.to_bytes()), 4, widths)[1], edge[:, [1]])
    for value in (high + 1, low - 1):
        A = edge.copy()
        A[3, 2] = value
        with pytest.raises(ValueError, match=rf"value {value} does not fit in a {width}-bit signed field"):
            write_sparse_columns(BitWriter(), A, [1, 2], widths)


@pytest.mark.parametrize("bit_width", [16, 32, 64])
def test_two_party_bits_equal_payload_and_field_count(bit_width):
    setting = Setting(n=60, d=45, sparsity=6, rank=2, weight_rank=2, eps=0.5, servers=1, bit_width=bit_width)
    A, W = make_instance(setting, noise=0, seed=0)
    assert np.all(np.count_nonzero(A, axis=0) == 6)  # noise 0: exactly s nonzeros
    run = run_protocol(A, W, setting)
    size = setting.n_selected
    assert size == 8 and run.selected.size == size
    assert [m.kind for m in run.messages] == ["candidate columns", "coefficients X"]
    for message in run.messages:
        assert len(message.payload) == math.ceil(message.n_bits / 8)
        pad = np.unpackbits(np.frombuffer(message.payload, np.uint8))[message.n_bits:]
        assert not pad.any()
    # Field by field, as the module docstring specifies the wire format.
    n, d, s, b = 60, 45, 6, bit_width
    columns = clog2(d + 1) + size * (clog2(d) + clog2(n + 1) + s * (clog2(n) + b))
    coefficients = size * d * b
    assert run.messages[0].n_bits == columns
    assert run.messages[1].n_bits == coefficients
    assert run.n_bits == columns + coefficients == protocol_bits_bound(setting)
    assert raw_bits(A, setting)["dense"] == n * d * b


@pytest.mark.parametrize("servers, bit_width", [(1, 64), (3, 64), (4, 32), (2, 16)])
def test_coordinator_output_from_payload_equals_direct_solution(servers, bit_width):
    setting = Setting(n=50, d=40, sparsity=8, rank=2, weight_rank=2, eps=0.75, servers=servers, bit_width=bit_width)
    A, W = make_instance(setting, noise=1, seed=3)
    run = run_protocol(A, W, setting, selection="pivoted_qr", seed=0)
    # Independent oracle: the CSS solution computed directly from A for the same S.
    WA = W * A
    X = np.linalg.lstsq(WA[:, run.selected], WA, rcond=None)[0]
    X = X.astype({16: np.float16, 32: np.float32, 64: np.float64}[bit_width]).astype(np.float64)
    np.testing.assert_allclose(run.X, X, rtol=1e-12, atol=1e-12 * np.abs(X).max())
    direct = divide_by_weights(WA[:, run.selected] @ X, W)
    np.testing.assert_allclose(run.approx, direct, rtol=1e-9, atol=1e-9 * np.abs(direct).max())
    assert run.loss == pytest.approx(wlra_core.weighted_loss(A, W, direct), rel=1e-9)
    assert run.lower_bound == pytest.approx(tail_mass(WA, 4))
    assert run.approximation_ratio == pytest.approx(run.loss / run.lower_bound)
    assert run.n_bits <= protocol_bits_bound(setting)
    assert run.n_bytes == sum(math.ceil(m.n_bits / 8) for m in run.messages)
    if servers > 1:
        assert {m.kind for m in run.messages} >= {"candidate columns", "coefficients X"}
    table = {row["what"]: row["bits"] for row in bits_table(run, A)}
    assert table["CSS protocol (this run)"] == run.n_bits
    assert table["lower bound srk"] == 8 * 2 * 2


def test_protocol_is_near_optimal_on_a_planted_instance():
    setting = Setting(n=80, d=60, sparsity=40, rank=2, weight_rank=1, eps=0.5, servers=2, bit_width=64)
    A, W = make_instance(setting, noise=0, seed=4)
    assert numerical_rank(W) == 1
    run = run_protocol(A, W, setting)
    # A has rank k, so W o A has rank rk and the CSS protocol is exact.
    assert run.loss <= 1e-12 * wlra_core.weighted_mass(A, W)
    assert run.approximation_ratio == 1.0
    assert run.n_bits < raw_bits(A, setting)["sparse"]


def test_bad_settings_and_instances():
    with pytest.raises(ValueError, match="sparsity"):
        Setting(n=5, d=5, sparsity=6, rank=1, weight_rank=1, eps=1.0)
    with pytest.raises(ValueError, match="Setting: invalid bit_width=8; bit_width must be one of 16, 32, 64"):
        Setting(n=5, d=5, sparsity=2, rank=1, weight_rank=1, eps=1.0, bit_width=8)
    with pytest.raises(ValueError, match="invalid bit_width=16.0"):
        Setting(n=5, d=5, sparsity=2, rank=1, weight_rank=1, eps=1.0, bit_width=16.0)
    with pytest.raises(ValueError, match="invalid rank=np.True_; rank must be an integer >= 1"):
        Setting(n=5, d=5, sparsity=2, rank=np.bool_(True), weight_rank=1, eps=1.0)
    with pytest.raises(ValueError, match="eps must be a number > 0"):
        Setting(n=5, d=5, sparsity=2, rank=1, weight_rank=1, eps=float("inf"))
    # NumPy integers are integers, and come out as Python ints.
    assert Setting(n=np.int64(5), d=5, sparsity=2, rank=1, weight_rank=1, eps=1, bit_width=np.int32(16)) == \
        Setting(n=5, d=5, sparsity=2, rank=1, weight_rank=1, eps=1.0, bit_width=16)
    with pytest.raises(ValueError, match="servers"):
        Setting(n=5, d=5, sparsity=2, rank=1, weight_rank=1, eps=1.0, servers=6)
    setting = Setting(n=10, d=8, sparsity=2, rank=1, weight_rank=1, eps=1.0, bit_width=16)
    with pytest.raises(ValueError, match="make_instance: invalid noise=True; noise must be an integer in \\[0, 1000\\]"):
        make_instance(setting, noise=True)
    A, W = make_instance(setting, seed=0)
    A[:, 0] = 1
    with pytest.raises(ValueError, match="more than s=2"):
        run_protocol(A, W, setting)
    A[:, 0] = 0
    A[0, 0] = 40000
    with pytest.raises(ValueError, match="16-bit"):
        run_protocol(A, W, setting)


def test_lower_bound_instance_has_optimum_zero_and_svd_w_recovers_it():
    n, r, s, k = 24, 3, 4, 2
    instance = lower_bound_instance(n, r, s, k, seed=0)
    W = instance.W
    np.testing.assert_array_equal(W, block_diagonal_mask(n, r))
    assert numerical_rank(W) == r
    assert np.count_nonzero(instance.A, axis=0).max() <= s
    # The rank-k matrix A* has weighted loss exactly 0: the optimum is 0.
    assert numerical_rank(instance.A_star) <= k
    assert wlra_core.weighted_loss(instance.A, W, instance.A_star) == 0.0
    assert numerical_rank(instance.A) > k  # ... although A itself is not rank k
    # svd_w (weight rank r) is exact (Theorem 1.2 with kappa = 1): it recovers A on W's support.
    result = wlra_core.solve("svd_w", instance.A, W, k, weight_rank=r)
    assert result.loss < 1e-20
    support = W > 0
    np.testing.assert_allclose(result.approx[support], instance.A[support], atol=1e-9)
    np.testing.assert_array_equal(recover_dense(instance, result.approx), instance.A_dense)
    np.testing.assert_array_equal(recover_dense(instance, instance.A_star), instance.A_dense)
    # The check can fail: the unweighted rank-k SVD has positive loss and loses bits.
    plain = wlra_core.solve("svd", instance.A, W, k)
    assert plain.loss > 0.1
    assert not np.array_equal(recover_dense(instance, plain.approx), instance.A_dense)


def test_lower_bound_instance_validation():
    with pytest.raises(ValueError, match="multiple"):
        lower_bound_instance(10, 3, 1, 1)
    with pytest.raises(ValueError, match="n/r"):
        lower_bound_instance(12, 3, 5, 1)


def test_lower_bound_demo_solutions():
    from wlra_core.communication import LOWER_BOUND_SOLUTIONS, lower_bound_solution, recovery_report

    instance = lower_bound_instance(30, 3, 5, 3, seed=1)
    reports = {m: recovery_report(instance, lower_bound_solution(instance, m)) for m in LOWER_BOUND_SOLUTIONS}
    for method in ("svd_w (weight rank r)", "A* (rank-k construction)"):
        assert reports[method]["recovered"] and reports[method]["wrong_bits"] == 0
        assert reports[method]["loss"] < 1e-20 and reports[method]["max_support_error"] < 1e-9
    plain = reports["svd (unweighted)"]
    assert plain["loss"] > 0 and not plain["recovered"] and plain["wrong_bits"] > 0
    assert plain["bits"] == 5 * 3 * 3


def test_bits_sweep_runs_the_protocol_per_value():
    from wlra_core.communication import bits_sweep, sweep_values

    base = Setting(n=40, d=30, sparsity=20, rank=2, weight_rank=1, eps=0.5, servers=2, bit_width=32)
    values = sweep_values(base, "sparsity", 4)
    assert values[0] == 1 and values[-1] == 40
    rows = bits_sweep(base, "sparsity", values, noise=0)
    for value, row in zip(values, rows):
        setting = Setting(n=40, d=30, sparsity=value, rank=2, weight_rank=1, eps=0.5, servers=2, bit_width=32)
        A, W = make_instance(setting, noise=0, seed=0)
        assert row["CSS protocol (this run)"] == run_protocol(A, W, setting).n_bits
        assert row["lower bound srk"] == value * 2
    with pytest.raises(ValueError, match="parameter"):
        bits_sweep(base, "n", [10])


@pytest.mark.parametrize("servers", [1, 3])
def test_serialized_bits_bound_covers_a_run_and_raw_sparse(servers):
    setting = Setting(n=30, d=25, sparsity=7, rank=2, weight_rank=2, eps=0.7, servers=servers, bit_width=16)
    A, W = make_instance(setting, noise=0, seed=2)  # noise 0: exactly s nonzeros per column
    serialized = run_protocol(A, W, setting).n_bits + raw_bits(A, setting)["sparse"]
    bound = serialized_bits_bound(setting)
    if servers == 1:
        assert serialized == bound  # every field accounted for
    else:
        # Round 2 sends a server only the columns of S it lacks; the bound counts all of S.
        assert serialized < bound


def test_lower_bound_solution_reports_a_failed_solver(monkeypatch):
    instance = lower_bound_instance(12, 2, 2, 1, seed=0)
    failed = SimpleNamespace(failed=True, message="diverged at iteration 3", approx=None)
    monkeypatch.setattr(lower_bound, "solve", lambda *args, **kwargs: failed)
    with pytest.raises(ValueError, match="em failed on this instance: diverged at iteration 3"):
        lower_bound_solution(instance, "em")


def test_package_names_are_defined_once_in_the_modules():
    # The package re-exports; every public name has one definition in bits, protocol or lower_bound.
    modules = (bits, protocol, lower_bound)
    for name in communication.__all__:
        owners = [m for m in modules if name in m.__all__]
        assert len(owners) == 1, name
        assert getattr(communication, name) is getattr(owners[0], name)
