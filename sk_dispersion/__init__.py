"""Dispersed embeddings on the unit hypersphere, as scikit-learn estimators.

The public API is imported lazily (PEP 562) so that ``import sk_dispersion`` is
cheap and a submodule such as :mod:`sk_dispersion.metrics` can be used without
loading the estimators.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "SphereDisperser": "estimators",
    "LloydDisperser": "estimators",
    "MMDDisperser": "estimators",
    "MMADisperser": "estimators",
    "KoLeoDisperser": "estimators",
    "Disperser": "estimators",
    "disperse": "points",
    "make_prototypes": "points",
    "AllButTheTop": "postprocessing",
    "HubnessReducer": "postprocessing",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        module = importlib.import_module(f".{_PUBLIC[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
