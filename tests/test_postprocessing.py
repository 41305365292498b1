"""Tests for sk_dispersion.postprocessing: AllButTheTop and HubnessReducer."""

import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_dispersion.metrics import hubness
from sk_dispersion.postprocessing import AllButTheTop, HubnessReducer


@parametrize_with_checks(
    [AllButTheTop(n_components=1), HubnessReducer(n_neighbors=3, random_state=0)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def anisotropic():
    rng = np.random.default_rng(0)
    scales = np.array([8.0, 4.0, 2.0, 1.0, 1.0, 1.0])
    return rng.normal(size=(400, 6)) * scales @ _rotation(6, rng) + 5.0


def _rotation(dim, rng):
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q


# ---------------------------------------------------------------- AllButTheTop


@pytest.mark.parametrize("n_components", [0, 1, 3])
def test_abtt_matches_svd_projection(anisotropic, n_components):
    X = anisotropic
    centred = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    top = vt[:n_components]
    expected = centred - centred @ top.T @ top
    abtt = AllButTheTop(n_components=n_components).fit(X)
    np.testing.assert_allclose(abtt.transform(X), expected, atol=1e-10)
    np.testing.assert_allclose(
        np.abs(abtt.components_ @ top.T), np.eye(n_components), atol=1e-10
    )
    np.testing.assert_allclose(
        abtt.explained_variance_, (centred @ top.T).var(axis=0), rtol=1e-10
    )


def test_abtt_output_is_orthogonal_to_removed_directions(anisotropic):
    abtt = AllButTheTop(n_components=2).fit(anisotropic)
    new_rows = np.random.default_rng(5).normal(size=(7, 6))
    np.testing.assert_allclose(
        abtt.transform(new_rows) @ abtt.components_.T, 0, atol=1e-10
    )


def test_abtt_keeps_float32_and_input(anisotropic):
    X = anisotropic.astype(np.float32)
    before = X.copy()
    Y = AllButTheTop(n_components=2).fit_transform(X)
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(X, before)


def test_abtt_rejects_removing_every_direction():
    with pytest.raises(ValueError, match=re.escape("n_components=3 must be smaller")):
        AllButTheTop(n_components=3).fit(np.random.default_rng(0).normal(size=(9, 3)))


def test_abtt_needs_two_samples():
    with pytest.raises(ValueError, match="n_samples=1"):
        AllButTheTop(n_components=1).fit(np.ones((1, 4)))


# -------------------------------------------------------------- HubnessReducer


def _brute_force_counts(reference, rows, k):
    R = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    Q = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    among = R @ R.T
    np.fill_diagonal(among, -np.inf)
    ordered = np.sort(among, axis=1)
    threshold = (ordered[:, -k] + ordered[:, -k - 1]) / 2
    sims = Q @ R.T
    return np.sum((sims > threshold) & (sims < 1 - 1e-9), axis=1)


@pytest.fixture
def gaussian():
    return np.random.default_rng(1).normal(size=(300, 20))


@pytest.mark.parametrize("block_size", [None, 7, 1000])
def test_reverse_neighbor_counts_match_brute_force(gaussian, block_size):
    new_rows = np.random.default_rng(2).normal(size=(50, 20))
    reducer = HubnessReducer(n_neighbors=5, block_size=block_size).fit(gaussian)
    np.testing.assert_array_equal(
        reducer.reverse_neighbor_counts(new_rows),
        _brute_force_counts(gaussian, new_rows, 5),
    )
    # For training rows the count is the k-occurrence (no ties in continuous data).
    np.testing.assert_array_equal(
        reducer.reverse_neighbor_counts(gaussian), reducer.k_occurrence_
    )
    assert reducer.k_occurrence_.sum() == 5 * len(gaussian)


def test_reverse_neighbor_counts_are_scale_invariant_in_float32(gaussian):
    reducer = HubnessReducer(n_neighbors=5).fit(gaussian)
    scaled = (gaussian * 3.0).astype(np.float32)
    np.testing.assert_array_equal(
        reducer.reverse_neighbor_counts(scaled), reducer.k_occurrence_
    )


def test_cosines_shrink_exactly_by_the_hub_factors(gaussian):
    reducer = HubnessReducer(n_neighbors=5, strength=0.6, random_state=0)
    Z = reducer.fit_transform(gaussian)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1)
    counts = reducer.k_occurrence_
    rho = 0.6 * np.clip(1 - 5 / np.maximum(counts, 1), 0, 1)
    assert (rho > 0).sum() > 50 and (rho == 0).sum() > 50
    unit = gaussian / np.linalg.norm(gaussian, axis=1, keepdims=True)
    expected = np.sqrt(1 - rho**2)[:, None] * (unit @ unit.T) * np.sqrt(1 - rho**2)
    buckets = np.abs(Z[:, 20:]).argmax(axis=1)
    different = buckets[:, None] != buckets[None, :]
    hub_pair = (rho[:, None] > 0) & (rho[None, :] > 0)
    got = Z @ Z.T
    np.testing.assert_allclose(
        got[different | ~hub_pair], expected[different | ~hub_pair]
    )
    # Colliding hub pairs differ by exactly +-rho_x rho_y.
    collide = ~different & hub_pair
    np.fill_diagonal(collide, False)
    assert collide.any()
    np.testing.assert_allclose(
        np.abs(got - expected)[collide], np.outer(rho, rho)[collide]
    )


def test_non_hubs_keep_their_geometry(gaussian):
    reducer = HubnessReducer(n_neighbors=5, strength=0.9).fit(gaussian)
    Z = reducer.transform(gaussian)
    calm = reducer.k_occurrence_ <= 5
    unit = gaussian / np.linalg.norm(gaussian, axis=1, keepdims=True)
    np.testing.assert_allclose(Z[calm, :20], unit[calm])
    np.testing.assert_array_equal(Z[calm, 20:], 0)


def test_zero_strength_only_normalises(gaussian):
    Z = HubnessReducer(n_neighbors=5, strength=0.0).fit_transform(gaussian)
    unit = gaussian / np.linalg.norm(gaussian, axis=1, keepdims=True)
    np.testing.assert_allclose(Z[:, :20], unit)
    np.testing.assert_array_equal(Z[:, 20:], 0)


def test_hubness_drops_and_stronger_drops_more():
    X = np.random.default_rng(3).normal(size=(1500, 40))
    skew = [hubness(X, k=10).skewness]
    for strength in (0.2, 0.5):
        reducer = HubnessReducer(n_neighbors=10, strength=strength, random_state=0)
        skew.append(hubness(reducer.fit_transform(X), k=10).skewness)
    assert skew[0] > skew[1] > skew[2]
    assert skew[0] - skew[2] > 0.3


def test_transform_is_row_independent_and_deterministic(gaussian):
    reducer = HubnessReducer(n_neighbors=5, n_extra_features=4, random_state=3)
    reducer.fit(gaussian)
    full = reducer.transform(gaussian)
    np.testing.assert_array_equal(reducer.transform(gaussian[::-7]), full[::-7])
    again = pickle.loads(pickle.dumps(reducer)).transform(gaussian[:10])
    np.testing.assert_array_equal(again, full[:10])
    assert full.shape == (300, 24)
    other = clone(reducer).set_params(random_state=4).fit(gaussian)
    assert not np.array_equal(other.transform(gaussian), full)


def test_hubness_reducer_keeps_float32_and_input(gaussian):
    X = gaussian.astype(np.float32)
    before = X.copy()
    Z = HubnessReducer(n_neighbors=5).fit_transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_array_equal(X, before)


def test_hubness_reducer_feature_names(gaussian):
    reducer = HubnessReducer(n_neighbors=5, n_extra_features=2).fit(gaussian)
    names = reducer.get_feature_names_out()
    assert len(names) == 22 and names[0] == "hubnessreducer0"


def test_zero_rows_stay_zero_and_count_as_orthogonal(gaussian):
    X = gaussian.copy()
    X[[4, 9]] = 0
    reducer = HubnessReducer(n_neighbors=5, strength=0.5).fit(X)
    Z = reducer.transform(X)
    np.testing.assert_array_equal(Z[[4, 9]], 0)
    np.testing.assert_allclose(np.delete(np.linalg.norm(Z, axis=1), [4, 9]), 1)
    assert np.isfinite(reducer.neighbor_threshold_).all()


def test_hubness_reducer_needs_more_rows_than_neighbors():
    with pytest.raises(ValueError, match=re.escape("n_samples=6: HubnessReducer")):
        HubnessReducer(n_neighbors=5).fit(np.eye(6))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"strength": 1.0}, "strength"),
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"n_extra_features": 0}, "n_extra_features"),
    ],
)
def test_hubness_reducer_rejects_bad_parameters(gaussian, params, match):
    with pytest.raises(ValueError, match=match):
        HubnessReducer(**params).fit(gaussian)
