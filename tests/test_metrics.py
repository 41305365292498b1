"""Tests of the exact blockwise metrics against brute force on small data."""

import dataclasses
import importlib.util
import json
import math
import pathlib
import re

import numpy as np
import pytest
import torch
from scipy import sparse, stats
from scipy.special import logsumexp

from sk_dispersion import metrics
from sk_dispersion.metrics import (
    HubnessResult,
    circular_variance,
    dispersion_report,
    hubness,
    min_angle,
    nearest_neighbor_angles,
    riesz_energy,
    uniformity,
)

# Block sizes that do not divide the test sizes, 1 (every pair crosses tiles)
# and the default.
BLOCK_SIZES = [1, 3, 7, 16, None]


def _unit(X):
    X = np.asarray(X, dtype=np.float64)
    X = X / np.abs(X).max(axis=1, keepdims=True)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _pair_angles(X):
    """Full matrix of angles (radians), stable formula, diagonal inf."""
    Z = _unit(X)
    difference = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    total = np.linalg.norm(Z[:, None] + Z[None], axis=2)
    angles = 2 * np.arctan2(difference, total)
    np.fill_diagonal(angles, np.inf)
    return angles


def _brute_nn_deg(X):
    return np.degrees(_pair_angles(X).min(axis=1))


def _upper(matrix):
    return matrix[np.triu_indices(matrix.shape[0], 1)]


def _gaussian(n, m, seed=0):
    return np.random.default_rng(seed).normal(size=(n, m))


def _simplex(d):
    """d + 1 points of the regular simplex inscribed in S^{d-1} (in R^{d+1})."""
    return np.eye(d + 1) - 1.0 / (d + 1)


def _cross_polytope(d):
    return np.vstack([np.eye(d), -np.eye(d)])


# ------------------------------------------------- nearest neighbours, min


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_nearest_neighbor_angles_match_brute_force(block_size):
    X = _gaussian(37, 5)
    angles = nearest_neighbor_angles(X, block_size=block_size)
    assert angles.shape == (37,) and angles.dtype == np.float64
    np.testing.assert_allclose(angles, _brute_nn_deg(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_min_angle_matches_brute_force_and_nearest_neighbours(block_size):
    X = _gaussian(37, 5, seed=1)
    value = min_angle(X, block_size=block_size)
    assert isinstance(value, float)
    assert value == pytest.approx(_brute_nn_deg(X).min(), rel=1e-12)
    assert value == nearest_neighbor_angles(X, block_size=block_size).min()


@pytest.mark.parametrize("offset", [1, 2])
def test_off_diagonal_tiles_keep_their_local_diagonal(offset):
    # Rows i and i + block_size sit on the local diagonal of an off-diagonal
    # tile; masking that diagonal as if it were self-pairs would hide them.
    block = 5
    X = _gaussian(17, 4, seed=2)
    X[offset + block] = X[offset]
    assert min_angle(X, block_size=block) == 0.0
    angles = nearest_neighbor_angles(X, block_size=block)
    assert angles[offset] == 0.0 and angles[offset + block] == 0.0
    expected = _brute_nn_deg(X)
    np.testing.assert_allclose(angles, expected, rtol=1e-12, atol=1e-12)


def test_min_angle_counts_cross_block_pairs():
    # The closest pair is the first and the last row: different tiles.
    X = _gaussian(23, 3, seed=3)
    X[-1] = X[0] + 1e-4 * _gaussian(1, 3, seed=4)[0]
    expected = _brute_nn_deg(X).min()
    assert expected < 0.1
    for block_size in (4, 6, 22):
        assert min_angle(X, block_size=block_size) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("copies", [2, 3, 5])
def test_duplicate_rows_give_angle_zero_not_nan(copies):
    X = _gaussian(20, 4, seed=5)
    X[[2 + 3 * c for c in range(copies)]] = X[2]
    for block_size in (1, 4, None):
        assert min_angle(X, block_size=block_size) == 0.0
        angles = nearest_neighbor_angles(X, block_size=block_size)
        assert not np.isnan(angles).any()
        np.testing.assert_array_equal(angles[[2 + 3 * c for c in range(copies)]], 0.0)
        np.testing.assert_allclose(angles, _brute_nn_deg(X), rtol=1e-12, atol=1e-12)


def test_identical_rows_everywhere():
    X = np.tile([[1.0, 2.0, 3.0]], (9, 1))
    assert min_angle(X, block_size=2) == 0.0
    np.testing.assert_array_equal(nearest_neighbor_angles(X, block_size=2), 0.0)
    assert circular_variance(X) == pytest.approx(0.0, abs=1e-15)
    assert uniformity(X) == pytest.approx(0.0, abs=1e-12)
    assert riesz_energy(X, s=1.0) == math.inf
    assert riesz_energy(X, s=0.0) == math.inf


@pytest.mark.parametrize("angle", [1e-3, 1e-6, 1e-9, 1e-12])
def test_small_angles_are_exact_not_float32_arccos(angle):
    # arccos of a float32 cosine gives 0 (or ~0.02 degrees) for all of these.
    X = np.array(
        [
            [1.0, 0.0, 0.0],
            [math.cos(angle), math.sin(angle), 0.0],
            [0.0, 0.0, 1.0],
            [-1.0, 0.2, 0.1],
        ]
    )
    assert min_angle(X, block_size=2) == pytest.approx(math.degrees(angle), rel=1e-9)
    angles = nearest_neighbor_angles(X)
    assert angles[0] == pytest.approx(math.degrees(angle), rel=1e-9)
    assert angles[1] == pytest.approx(math.degrees(angle), rel=1e-9)


@pytest.mark.parametrize("spread", [1e-2, 1e-5, 1e-8])
def test_tight_clusters_match_brute_force(spread):
    # 40 rows within `spread` radians: float32 cannot rank them, and at 1e-8
    # neither can float64 cosines (the candidate list must grow past 16).
    rng = np.random.default_rng(6)
    cluster = rng.normal(size=(1, 6)) + spread * rng.normal(size=(40, 6))
    X = np.vstack([cluster, rng.normal(size=(20, 6))])
    expected = _brute_nn_deg(X)
    for block_size in (7, None):
        angles = nearest_neighbor_angles(X, block_size=block_size)
        np.testing.assert_allclose(angles, expected, rtol=1e-6)
        assert min_angle(X, block_size=block_size) == angles.min()


def test_exactness_survives_reduced_precision_matmul():
    X = _gaussian(50, 8, seed=7)
    X[10] = X[3] + 1e-6
    expected = _brute_nn_deg(X)
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        angles = nearest_neighbor_angles(X, block_size=16)
        value = min_angle(X, block_size=16)
    finally:
        torch.set_float32_matmul_precision(previous)
    np.testing.assert_allclose(angles, expected, rtol=1e-9)
    assert value == pytest.approx(expected.min(), rel=1e-9)


def test_two_rows_and_one_column():
    assert min_angle([[1.0, 0.0], [0.0, 3.0]]) == 90.0
    np.testing.assert_allclose(
        nearest_neighbor_angles([[2.0], [-1.0], [5.0]]), [0, 180, 0]
    )


# ------------------------------------------------ known configurations


@pytest.mark.parametrize(
    "points, expected",
    [
        (_simplex(3), math.degrees(math.acos(-1 / 3))),  # tetrahedron, 109.47
        (_cross_polytope(3), 90.0),  # octahedron
        *[(_simplex(d), math.degrees(math.acos(-1 / d))) for d in (2, 4, 7)],
        *[(_cross_polytope(d), 90.0) for d in (2, 5, 8)],
    ],
)
def test_known_configurations(points, expected):
    for block_size in (1, 3, None):
        assert min_angle(points, block_size=block_size) == pytest.approx(
            expected, abs=1e-12
        )
        np.testing.assert_allclose(
            nearest_neighbor_angles(points, block_size=block_size), expected, atol=1e-12
        )


def test_tetrahedron_value():
    assert round(min_angle(_simplex(3)), 4) == 109.4712


def test_circular_variance_of_symmetric_configurations_is_one():
    for points in (_simplex(3), _simplex(6), _cross_polytope(4)):
        assert circular_variance(points) == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------- energies, uniformity


@pytest.mark.parametrize("s", [0.0, 0.5, 1.0, 2.0, 3.5])
@pytest.mark.parametrize("distance", ["chordal", "geodesic"])
@pytest.mark.parametrize("block_size", [1, 4, None])
def test_riesz_energy_matches_brute_force(s, distance, block_size):
    X = _gaussian(23, 4, seed=8)
    angles = _upper(_pair_angles(X))
    dist = angles if distance == "geodesic" else 2 * np.sin(angles / 2)
    expected = np.mean(-np.log(dist)) if s == 0 else np.mean(dist**-s)
    value = riesz_energy(X, s=s, distance=distance, block_size=block_size)
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("angle", [1e-4, 1e-7, 1e-10])
@pytest.mark.parametrize("distance", ["chordal", "geodesic"])
def test_riesz_energy_of_close_pairs_is_exact(angle, distance):
    # 2 - 2 cos cancels here; the energy must use the recomputed distance.
    X = np.array([[1.0, 0.0], [math.cos(angle), math.sin(angle)]])
    dist = angle if distance == "geodesic" else 2 * math.sin(angle / 2)
    assert riesz_energy(X, s=1.0, distance=distance) == pytest.approx(
        1 / dist, rel=1e-9
    )
    assert riesz_energy(X, s=0.0, distance=distance) == pytest.approx(
        -math.log(dist), rel=1e-9
    )


def test_riesz_energy_is_infinite_with_duplicates():
    X = _gaussian(10, 3, seed=9)
    X[7] = X[1]
    assert riesz_energy(X, s=1.0, block_size=3) == math.inf
    assert riesz_energy(X, s=0.0, distance="geodesic") == math.inf


def test_antipodal_energies():
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert riesz_energy(X, s=1.0) == pytest.approx(0.5)
    assert riesz_energy(X, s=1.0, distance="geodesic") == pytest.approx(1 / math.pi)
    assert uniformity(X, t=2.0) == pytest.approx(-8.0)


@pytest.mark.parametrize("t", [0.5, 2.0, 1000.0])
@pytest.mark.parametrize("block_size", [1, 5, None])
def test_uniformity_matches_brute_force(t, block_size):
    X = _gaussian(29, 6, seed=10)
    dist2 = (2 * np.sin(_upper(_pair_angles(X)) / 2)) ** 2
    expected = logsumexp(-t * dist2) - math.log(dist2.size)
    assert uniformity(X, t=t, block_size=block_size) == pytest.approx(
        expected, rel=1e-12
    )
    assert math.isfinite(expected)  # t=1000 underflows a naive mean of exp


def test_circular_variance_matches_brute_force_and_ignores_row_scale():
    X = _gaussian(31, 4, seed=11) + 0.5
    expected = 1 - np.linalg.norm(_unit(X).mean(axis=0))
    assert circular_variance(X) == pytest.approx(expected, rel=1e-12)
    scaled = X * np.linspace(0.1, 1e3, 31)[:, None]
    assert circular_variance(scaled) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------- hubness


def _brute_k_occurrence(X, k):
    Z = _unit(X)
    cosines = Z @ Z.T
    np.fill_diagonal(cosines, -np.inf)
    neighbours = np.argsort(-cosines, axis=1, kind="stable")[:, :k]
    return np.bincount(neighbours.ravel(), minlength=len(X))


@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("block_size", [1, 7, None])
def test_hubness_matches_brute_force(k, block_size):
    X = _gaussian(40, 5, seed=12)
    result = hubness(X, k=k, block_size=block_size)
    expected = _brute_k_occurrence(X, k)
    assert isinstance(result, HubnessResult) and result.k == k
    np.testing.assert_array_equal(result.k_occurrence, expected)
    assert result.k_occurrence.sum() == 40 * k
    assert result.skewness == pytest.approx(stats.skew(expected, bias=True), rel=1e-12)
    assert result.antihub_fraction == pytest.approx(np.mean(expected == 0))


def test_hubness_grouped_tile_search_matches_brute_force():
    # Tiles 128 wide take the grouped top-k path; the last one (16) does not.
    X = _gaussian(400, 5, seed=19)
    for k in (1, 3, 7):
        result = hubness(X, k=k, block_size=128)
        np.testing.assert_array_equal(result.k_occurrence, _brute_k_occurrence(X, k))


def test_tile_top_k_equals_a_plain_top_k():
    generator = torch.Generator().manual_seed(0)
    for width in (160, 2048):
        sims = torch.randn(37, width, generator=generator, dtype=torch.float64)
        sims[5, :100] = -math.inf  # masked entries, as for self-pairs
        values, columns = metrics._tile_top_k(sims, 9)
        expected_values, expected_columns = sims.topk(9, dim=1)
        torch.testing.assert_close(values, expected_values, rtol=0, atol=0)
        assert torch.equal(columns, expected_columns)


def test_hubness_with_k_equal_to_n_minus_one_is_flat():
    result = hubness(_gaussian(6, 3), k=5)
    np.testing.assert_array_equal(result.k_occurrence, 5)
    assert result.skewness == 0.0 and result.antihub_fraction == 0.0


def test_hubness_finds_a_hub():
    # The pole is nearer (45 degrees) to each of 5 points around it than they
    # are to each other (49 degrees): it is everyone's nearest neighbour.
    angles = np.linspace(0, 2 * np.pi, 5, endpoint=False)
    ring = np.column_stack([np.cos(angles), np.sin(angles), np.ones(5)])
    X = np.vstack([[0.0, 0.0, 1.0], ring])
    result = hubness(X, k=1)
    assert result.k_occurrence[0] == 5
    assert result.antihub_fraction == pytest.approx(4 / 6)
    assert result.skewness == pytest.approx(10 / (10 / 3) ** 1.5)


def test_hubness_result_is_frozen_and_read_only():
    result = hubness(_gaussian(10, 3), k=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.k = 3
    with pytest.raises(ValueError, match="read-only"):
        result.k_occurrence[0] = 7


def test_hubness_with_duplicates_counts_them_as_neighbours():
    X = _gaussian(12, 3, seed=13)
    X[5] = X[0]
    result = hubness(X, k=1)
    assert result.k_occurrence[0] >= 1 and result.k_occurrence[5] >= 1
    assert result.k_occurrence.sum() == 12


# ------------------------------------------------------------- report


def test_dispersion_report_agrees_with_the_functions():
    X = _gaussian(60, 5, seed=14)
    report = dispersion_report(X, k=5, block_size=16)
    angles = nearest_neighbor_angles(X)
    hub = hubness(X, k=5)
    assert report == {
        "n_samples": 60,
        "dim": 5,
        "min_angle_deg": pytest.approx(min_angle(X), rel=1e-12),
        "mean_nn_angle_deg": pytest.approx(angles.mean(), rel=1e-12),
        "median_nn_angle_deg": pytest.approx(np.median(angles), rel=1e-12),
        "nn_angle_p05_deg": pytest.approx(np.percentile(angles, 5), rel=1e-12),
        "circular_variance": pytest.approx(circular_variance(X), rel=1e-12),
        "uniformity": pytest.approx(uniformity(X), rel=1e-12),
        "hubness_k": 5,
        "hubness_skewness": pytest.approx(hub.skewness, rel=1e-12),
        "antihub_fraction": pytest.approx(hub.antihub_fraction),
    }
    assert json.loads(json.dumps(report)) == report


def test_dispersion_report_lowers_k_for_small_sets_and_handles_duplicates():
    report = dispersion_report(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert report["hubness_k"] == 2
    assert report["min_angle_deg"] == 0.0
    assert dispersion_report([[1.0, 0.0], [0.0, 1.0]])["min_angle_deg"] == 90.0


# --------------------------------------------------- inputs and dtypes


ALL_METRICS = [
    ("min_angle", lambda X, **kw: min_angle(X, **kw)),
    ("nearest_neighbor_angles", lambda X, **kw: nearest_neighbor_angles(X, **kw)),
    ("circular_variance", lambda X, **kw: circular_variance(X)),
    ("riesz_energy", lambda X, **kw: riesz_energy(X, **kw)),
    ("uniformity", lambda X, **kw: uniformity(X, **kw)),
    ("hubness", lambda X, **kw: hubness(X, k=3, **kw).k_occurrence),
    ("dispersion_report", lambda X, **kw: dispersion_report(X, k=3, **kw)),
]
METRIC_IDS = [name for name, _ in ALL_METRICS]
METRIC_FUNCTIONS = [function for _, function in ALL_METRICS]


@pytest.mark.parametrize("function", METRIC_FUNCTIONS, ids=METRIC_IDS)
def test_numpy_and_torch_inputs_agree(function):
    X = _gaussian(25, 4, seed=15)
    expected = function(X)
    for other in (torch.tensor(X), torch.tensor(X, requires_grad=True), X.tolist()):
        result = function(other)
        if isinstance(expected, dict):
            assert result == expected
        else:
            np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("function", METRIC_FUNCTIONS, ids=METRIC_IDS)
def test_float32_input_agrees_with_float64(function):
    X = _gaussian(25, 4, seed=16)
    X32 = X.astype(np.float32)
    result32 = function(X32)
    same_data = function(X32.astype(np.float64))
    if isinstance(result32, dict):
        assert result32 == same_data
    else:
        # The float32 rows are the data: results are exactly those of their
        # float64 copy, and close to those of the original rows.
        np.testing.assert_array_equal(result32, same_data)
        np.testing.assert_allclose(result32, function(X), rtol=1e-5)


@pytest.mark.parametrize("function", METRIC_FUNCTIONS, ids=METRIC_IDS)
def test_inputs_are_never_modified(function):
    X = _gaussian(15, 3, seed=17)
    X[4] = X[9]
    before = X.copy()
    function(X)
    np.testing.assert_array_equal(X, before)
    T = torch.tensor(before)
    function(T)
    assert torch.equal(T, torch.tensor(before))
    readonly = before.copy()
    readonly.setflags(write=False)
    function(readonly)


@pytest.mark.parametrize(
    "make",
    [
        lambda X: np.rint(X * 10).astype(np.int64),
        lambda X: np.asfortranarray(X),
        lambda X: np.ascontiguousarray(X[::-1])[::-1],
        lambda X: X.astype(np.float16),
    ],
    ids=["int64", "fortran", "negative-strides", "float16"],
)
def test_other_numeric_layouts_match_float64(make):
    X = make(_gaussian(20, 3, seed=18))
    expected = _brute_nn_deg(np.asarray(X, dtype=np.float64))
    np.testing.assert_allclose(
        nearest_neighbor_angles(X, block_size=6), expected, rtol=1e-12, atol=1e-12
    )


def test_explicit_cpu_device_and_block_size_are_accepted():
    X = _gaussian(12, 3)
    expected = min_angle(X)
    assert min_angle(X, device="cpu", block_size=np.int64(5)) == expected
    assert min_angle(X, device=torch.device("cpu")) == expected


# ------------------------------------------------------- error messages


@pytest.mark.parametrize("function", METRIC_FUNCTIONS, ids=METRIC_IDS)
@pytest.mark.parametrize(
    "X, error, message",
    [
        (
            np.ones(4),
            ValueError,
            "X must be a 2-D array of shape (n_samples, n_features), "
            "got 1 dimension(s)",
        ),
        (np.ones((2, 2, 2)), ValueError, "got 3 dimension(s) with shape (2, 2, 2)"),
        (
            np.ones((1, 3)),
            ValueError,
            "at least 2 rows to measure dispersion, got n_samples=1",
        ),
        (np.ones((3, 0)), ValueError, "at least 1 column, got n_features=0"),
        (
            np.array([[1.0, np.nan], [1.0, 0.0], [0.0, 1.0]]),
            ValueError,
            "NaN or infinity in 1 row(s) (rows 0)",
        ),
        (
            np.array([[1.0, 0.0], [np.inf, 0.0], [0.0, 1.0]]),
            ValueError,
            "NaN or infinity in 1 row(s) (rows 1)",
        ),
        (
            np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]),
            ValueError,
            "1 row(s) have zero norm",
        ),
        (
            np.ones((3, 2), dtype=bool),
            TypeError,
            "X must hold real numbers, got dtype bool",
        ),
        (
            np.ones((3, 2), dtype=complex),
            TypeError,
            "X must hold real numbers, got dtype complex128",
        ),
        (
            np.array([["a", "b"], ["c", "d"]]),
            TypeError,
            "X must hold real numbers, got dtype <U1",
        ),
        (
            np.array([[1, "x"], [2, 3]], dtype=object),
            TypeError,
            "does not convert to float",
        ),
        (
            sparse.eye(3, format="csr"),
            TypeError,
            "scipy sparse matrix; metrics need dense rows, pass X.toarray()",
        ),
        (
            torch.ones(3, 2, dtype=torch.bool),
            TypeError,
            "got a tensor of dtype torch.bool",
        ),
    ],
)
def test_bad_input_gets_a_message_naming_the_problem(function, X, error, message):
    with pytest.raises(error, match=re.escape(message)):
        function(X)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda X: hubness(X, k=0),
            ValueError,
            "k must be between 1 and n_samples - 1 = 4, got k=0",
        ),
        (lambda X: hubness(X, k=5), ValueError, "got k=5"),
        (lambda X: hubness(X, k=2.0), TypeError, "k must be an int, got float"),
        (
            lambda X: dispersion_report(X, k=True),
            TypeError,
            "k must be an int, got bool",
        ),
        (
            lambda X: min_angle(X, block_size=0),
            ValueError,
            "block_size must be a positive int, got 0",
        ),
        (
            lambda X: nearest_neighbor_angles(X, block_size=2.5),
            TypeError,
            "block_size must be a positive int, got float",
        ),
        (
            lambda X: riesz_energy(X, s=-1.0),
            ValueError,
            "s must be finite and >= 0.0, got -1.0",
        ),
        (lambda X: riesz_energy(X, s=math.nan), ValueError, "s must be finite"),
        (
            lambda X: riesz_energy(X, s="1"),
            TypeError,
            "s must be a real number, got str",
        ),
        (
            lambda X: riesz_energy(X, distance="euclid"),
            ValueError,
            "distance must be 'chordal' or 'geodesic', got 'euclid'",
        ),
        (
            lambda X: uniformity(X, t=0.0),
            ValueError,
            "t must be finite and > 0.0, got 0.0",
        ),
        (lambda X: min_angle(X, device="tpu"), ValueError, "Unknown device 'tpu'"),
    ],
)
def test_bad_parameters_get_a_message_naming_the_problem(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(_gaussian(5, 3))


def test_missing_cuda_is_an_error_not_a_silent_fallback(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        min_angle(_gaussian(5, 3), device="cuda")


# ----------------------------------------------------------- benchmark


def test_benchmark_quick_mode_runs():
    path = pathlib.Path(__file__).parents[1] / "benchmarks" / "bench_metrics.py"
    spec = importlib.util.spec_from_file_location("bench_metrics", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--quick"])
    assert {row["method"] for row in rows} == set(bench.METHODS)
    by_method = {row["method"]: row["value"] for row in rows}
    # The exact and the full-matrix minimum angles agree on random data.
    assert by_method["min_angle"] == pytest.approx(by_method["direct"], abs=1e-3)
    assert by_method["nearest_neighbor_angles"] == by_method["min_angle"]
    assert all(row["seconds"] >= 0 for row in rows)


def test_no_full_matrix_is_materialised(monkeypatch):
    # Every similarity tile passes through _similarities or a float64 tile of at
    # most block_size x block_size entries; check the float32 path's tiles.
    shapes = []
    original = metrics._similarities

    def spy(rows, cols, buffer):
        shapes.append((rows.shape[0], cols.shape[0]))
        return original(rows, cols, buffer)

    monkeypatch.setattr(metrics, "_similarities", spy)
    X = _gaussian(50, 3)
    min_angle(X, block_size=8)
    nearest_neighbor_angles(X, block_size=8)
    assert shapes and max(r * c for r, c in shapes) <= 64
