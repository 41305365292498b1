"""Saving and loading fitted sk_dispersion models without pickle.

A pickle (or joblib) file can run arbitrary code the moment it is loaded, so a
model file received from someone else is a security risk. The command line
therefore stores models with skops (:mod:`skops.io`), the scikit-learn
ecosystem's persistence format, which records the object's structure and only
rebuilds types that the loader explicitly trusts. :func:`load_model` trusts
the estimator classes of this package (and the plain numpy/scikit-learn types
skops already trusts) and refuses any file that names another type, before
building anything from it.

Python users can still pickle the estimators as usual; this module is what
``sk-dispersion disperse --save-model`` and ``sk-dispersion transform`` use.
"""

import importlib
import zipfile
from pathlib import Path

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from sk_dispersion._io import FeatureFileError, atomic_write

# Modules whose estimator classes a model file may contain.
_MODEL_MODULES = ("sk_dispersion.estimators", "sk_dispersion.postprocessing")
# Container types scikit-learn ships that may wrap our estimators.
_SKLEARN_CONTAINERS = ("sklearn.pipeline.Pipeline",)


def _our_estimator_types():
    """Fully qualified names of the estimator classes defined in this package."""
    names = set()
    for module_name in _MODEL_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseEstimator)
                and value.__module__.startswith("sk_dispersion.")
            ):
                names.add(f"{value.__module__}.{value.__qualname__}")
    return names


def trusted_types():
    """Type names :func:`load_model` accepts beyond skops' own default trust.

    Returns
    -------
    set of str
    """
    return _our_estimator_types() | set(_SKLEARN_CONTAINERS)


def _is_our_model(obj):
    if isinstance(obj, Pipeline):
        return all(
            step in ("passthrough", None) or _is_our_model(step)
            for _, step in obj.steps
        )
    return isinstance(obj, BaseEstimator) and type(obj).__module__.startswith(
        "sk_dispersion."
    )


def save_model(model, path):
    """Write a fitted sk_dispersion estimator (or a Pipeline of them) with skops.

    The file is written atomically (temporary file, then :func:`os.replace`).

    Parameters
    ----------
    model : estimator
    path : str or Path

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sk_dispersion import SphereDisperser
    >>> from sk_dispersion.persistence import load_model, save_model
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> model = SphereDisperser(max_iter=2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> save_model(model, path)
    >>> np.allclose(load_model(path).transform(X), model.transform(X))
    True
    """
    import skops.io as sio

    if not _is_our_model(model):
        raise TypeError(
            f"save_model stores sk_dispersion estimators, got {type(model).__name__}"
        )
    atomic_write(Path(path), lambda handle: handle.write(sio.dumps(model)))


def load_model(path):
    """Load a model written by :func:`save_model`, trusting only our own types.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    estimator

    Raises
    ------
    FeatureFileError
        When the file is missing, is not a skops file, names a type that is not
        one of ours (nothing is built from it then), or does not hold an
        sk_dispersion model.
    """
    import skops.io as sio

    path = Path(path)
    if not path.exists():
        raise FeatureFileError(path, "no such model file")
    if path.is_dir():
        raise FeatureFileError(path, "is a directory, not a model file")
    if not zipfile.is_zipfile(path):
        raise FeatureFileError(
            path,
            "is not an sk-dispersion model file (expected a skops file written by "
            "`sk-dispersion disperse --save-model`)",
        )
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises several types on a corrupt archive
        raise FeatureFileError(
            path, f"is not a readable skops model file ({exc})"
        ) from None
    allowed = trusted_types()
    foreign = sorted(set(untrusted) - allowed)
    if foreign:
        raise FeatureFileError(
            path,
            "refusing to load: it contains types that are not sk_dispersion's "
            f"({', '.join(foreign)}); only our own models are trusted",
        )
    try:
        model = sio.load(path, trusted=sorted(set(untrusted)))
    except Exception as exc:
        raise FeatureFileError(path, f"could not load the model ({exc})") from None
    if not _is_our_model(model):
        raise FeatureFileError(
            path,
            f"holds a {type(model).__name__}, not an sk_dispersion model",
        )
    return model
