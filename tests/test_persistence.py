"""skops persistence of fitted models, trusting only sk_dispersion's classes."""

import os

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sk_dispersion import Disperser
from sk_dispersion._io import FeatureFileError
from sk_dispersion.persistence import load_model, save_model, trusted_types

skops_io = pytest.importorskip("skops.io")


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(80, 6))


def test_every_public_estimator_is_trusted():
    import sk_dispersion

    names = trusted_types()
    for public in ("SphereDisperser", "LloydDisperser", "MMDDisperser",
                   "MMADisperser", "KoLeoDisperser", "Disperser",
                   "AllButTheTop", "HubnessReducer"):  # fmt: skip
        cls = getattr(sk_dispersion, public)
        assert f"{cls.__module__}.{cls.__qualname__}" in names


def test_pipeline_of_our_steps_round_trips(tmp_path, X):
    from sk_dispersion.postprocessing import AllButTheTop, HubnessReducer

    model = make_pipeline(
        AllButTheTop(n_components=1),
        Disperser(method="uniformity", map="mlp", max_iter=5, random_state=0),
        HubnessReducer(n_neighbors=5, random_state=0),
    ).fit(X)
    save_model(model, tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops")
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    assert [name for name, _ in loaded.steps] == [name for name, _ in model.steps]


def test_save_refuses_other_estimators(tmp_path, X):
    with pytest.raises(TypeError, match="StandardScaler"):
        save_model(StandardScaler().fit(X), tmp_path / "m.skops")
    assert not (tmp_path / "m.skops").exists()


def test_foreign_callable_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    skops_io.dump(FunctionTransformer(func=os.system), tmp_path / "evil.skops")

    def no_load(*args, **kwargs):
        raise AssertionError("skops.io.load must not be reached")

    monkeypatch.setattr(skops_io, "load", no_load)
    with pytest.raises(FeatureFileError, match="refusing to load.*system"):
        load_model(tmp_path / "evil.skops")


def test_pipeline_mixing_in_other_estimators_is_refused(tmp_path, X):
    model = make_pipeline(StandardScaler(), Disperser(max_iter=2, random_state=0))
    skops_io.dump(model.fit(X), tmp_path / "mixed.skops")
    with pytest.raises(
        FeatureFileError, match="holds a Pipeline, not an sk_dispersion"
    ):
        load_model(tmp_path / "mixed.skops")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such model file"),
        (b"PK but not really", "not an sk-dispersion model"),
    ],
)
def test_missing_or_garbage_model_file(tmp_path, content, message):
    path = tmp_path / "m.skops"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FeatureFileError, match=message):
        load_model(path)
