"""The scikit-learn contract for every public estimator: the common checks,
clone / get_params / set_params, pickle and joblib round-trips, pandas output
and feature names."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_dispersion import (
    Disperser,
    KoLeoDisperser,
    LloydDisperser,
    MMADisperser,
    MMDDisperser,
    SphereDisperser,
)

CLASSES = [
    SphereDisperser,
    LloydDisperser,
    MMDDisperser,
    MMADisperser,
    KoLeoDisperser,
    Disperser,
]


def _fast(cls, **params):
    # The common checks test the API, not convergence: a few steps suffice
    # and keep ~40 checks x 6 estimators within the test budget.
    return cls(max_iter=5, **params)


# No expected failures: every check passes for every estimator.
@parametrize_with_checks(
    [_fast(cls) for cls in CLASSES]
    + [_fast(Disperser, method="uniformity", map="mlp", method_params={"t": 2.0})]
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    # Crowded in a cone, as embeddings often are.
    X = rng.normal(size=(120, 6)) + 3.0
    return X


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("map_", ["linear", "mlp"])
def test_pickle_and_joblib_round_trips_give_bit_identical_transforms(
    cls, map_, data, tmp_path
):
    estimator = cls(map=map_, max_iter=20, random_state=0).fit(data)
    expected = estimator.transform(data)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.transform(data), expected)
    path = tmp_path / "model.joblib"
    joblib.dump(estimator, path)
    np.testing.assert_array_equal(joblib.load(path).transform(data), expected)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("map_", ["linear", "mlp"])
def test_clone_and_set_params_refit_bit_identically(cls, map_, data):
    estimator = cls(map=map_, max_iter=20, random_state=0).fit(data)
    expected = estimator.transform(data)
    # A clone of the fitted estimator is unfitted and refits to the same map.
    cloned = clone(estimator)
    assert not hasattr(cloned, "components_")
    assert cloned.fit(data).transform(data).tobytes() == expected.tobytes()
    # set_params on a differently configured estimator gives the same fit.
    other = cls(map="mlp" if map_ == "linear" else "linear", random_state=1)
    other.set_params(**estimator.get_params())
    assert other.fit(data).transform(data).tobytes() == expected.tobytes()
    assert cloned.loss_curve_ == other.loss_curve_ == estimator.loss_curve_


@pytest.mark.parametrize("map_", ["linear", "mlp"])
def test_fitted_model_pickles_without_torch_objects(map_, data):
    # The map lives in numpy arrays, so a model fitted on an accelerator
    # unpickles and transforms on a CPU-only machine: no tensor, module,
    # generator or device is stored.
    estimator = MMDDisperser(map=map_, max_iter=10, random_state=0).fit(data)
    payload = pickle.dumps(estimator)
    assert b"torch" not in payload
    for name, value in vars(estimator).items():
        if name.endswith("_") and not name.startswith("_"):
            assert isinstance(value, (np.ndarray, float, int, list)), name


def test_clone_keeps_method_params_dict_identity_and_values():
    params = {"t": 3.0}
    estimator = Disperser(method="uniformity", method_params=params)
    assert estimator.method_params is params
    cloned = clone(estimator)
    assert cloned.method_params == {"t": 3.0}
    assert cloned.get_params()["method"] == "uniformity"


def test_fit_does_not_modify_method_params(data):
    params = {"t": 3.0}
    Disperser(method="uniformity", method_params=params, max_iter=5).fit(data)
    assert params == {"t": 3.0}


def test_set_params_round_trip():
    estimator = MMDDisperser()
    estimator.set_params(kernel="riesz", s=0.0, dispersion_weight=np.float64(0.5))
    params = estimator.get_params()
    assert params["kernel"] == "riesz" and params["s"] == 0.0
    assert clone(estimator).get_params() == params


def test_numpy_scalar_parameters_are_accepted(data):
    estimator = SphereDisperser(
        n_projections=np.int64(8),
        n_components=np.int64(4),
        max_iter=np.int64(5),
        batch_size=np.int32(32),
        dispersion_weight=np.float32(0.5),
    ).fit(data)
    assert estimator.transform(data).shape == (len(data), 4)


def test_pandas_output_and_feature_names(data):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(data, columns=[f"f{i}" for i in range(data.shape[1])])
    estimator = SphereDisperser(n_components=3, max_iter=5, random_state=0)
    estimator.set_output(transform="pandas")
    out = estimator.fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    expected = [f"spheredisperser{i}" for i in range(3)]
    assert list(out.columns) == expected
    assert list(estimator.get_feature_names_out()) == expected
    assert list(estimator.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(out.index, frame.index)


def test_feature_names_mismatch_raises(data):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(data, columns=[f"f{i}" for i in range(data.shape[1])])
    estimator = KoLeoDisperser(max_iter=5, random_state=0).fit(frame)
    renamed = frame.rename(columns={"f0": "other"})
    with pytest.raises(ValueError, match="feature names"):
        estimator.transform(renamed)


@pytest.mark.parametrize("cls", CLASSES)
def test_preserves_dtype_tag(cls):
    from sklearn.utils import get_tags

    assert get_tags(cls()).transformer_tags.preserves_dtype == ["float64", "float32"]
