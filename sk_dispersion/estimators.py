"""scikit-learn estimators that learn a map onto the unit hypersphere.

Each estimator fits a map g: R^d -> R^m (linear or a residual MLP) and embeds a
row x as z = g(x) / ||g(x)|| on S^{m-1}. The map is trained with minibatch Adam
on the objective

    fidelity(Z_b, X_b) / fidelity_scale
        + dispersion_weight * (dispersion(Z_b) - dispersion_offset) / dispersion_scale

over minibatches b: the fidelity keeps the cosine structure of the centred
input, the dispersion loss (one of :data:`sk_dispersion.losses.LOSSES`) spreads
the points. One small public class per method exposes that method's own
hyper-parameters as constructor arguments so that they can be searched, and
:class:`Disperser` takes the method by name for searches over methods.
"""

import numbers

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sk_dispersion._fidelity import FIDELITIES
from sk_dispersion._maps import (
    MAPS,
    apply_map,
    build_map,
    initial_components,
    normalise_scale,
)
from sk_dispersion._torch import make_generator, resolve_device
from sk_dispersion._training import Calibration, TrainingResult, train_map
from sk_dispersion.losses import LOSSES, get_loss

__all__ = [
    "SphereDisperser",
    "LloydDisperser",
    "MMDDisperser",
    "MMADisperser",
    "KoLeoDisperser",
    "Disperser",
]

# Rows used to find the principal directions that start a reduced map.
_PCA_INIT_ROWS = 20_000
# Rows per block when checking for rows equal to the mean.
_VALIDATION_BLOCK = 65_536

_COMMON_PARAMETERS = """\
n_components : int >= 1 or None, default=None
        Dimension m of the output sphere S^{m-1}; ``None`` keeps the number of
        input features. At most ``n_features_in_``. With 1 the "sphere" S^0 is
        the two points {-1, 1}: nothing can be optimised, the map is the first
        principal axis and ``transform`` returns the sign of the projection.

    dispersion_weight : float >= 0, default=1.0
        Strength of the dispersion term, calibrated to mean the same for every
        method (see Notes): 0 keeps the input geometry (a baseline for
        searches), 0.1 is a light touch, 1 a clear effect and 10 a strong one.

    map : {"linear", "mlp"}, default="linear"
        ``"linear"``: g(x) = W (x - mean), starting at the identity (or the top
        principal directions when ``n_components < n_features``). ``"mlp"``:
        the linear map plus a residual ReLU branch of width
        ``2 * max(n_features, n_components)`` whose output layer starts at
        zero, so training starts from the linear map.

    fidelity : {"cosine"}, default="cosine"
        What of the input to keep: ``"cosine"`` is the mean over pairs of the
        batch of (z_i . z_j - s_ij)^2, s_ij the cosine similarity of the
        centred inputs.

    learning_rate : float > 0, default=3e-3
        Adam step size.

    max_iter : int >= 1, default=300
        Maximum number of optimisation steps (minibatches).

    batch_size : int >= 2, default=256
        Rows per minibatch (all rows when there are fewer). Batches are drawn
        without replacement, reshuffled every epoch.

    tol : float >= 0 or None, default=1e-4
        Early stopping: the mean loss of each block of 10 iterations is
        compared with the best so far; training stops once it has not improved
        by ``tol`` for ``n_iter_no_change`` iterations. ``None`` always runs
        ``max_iter`` steps.

    n_iter_no_change : int >= 1, default=50
        Iterations without improvement of ``tol`` before stopping.

    device : {"auto", "cpu", "cuda", "mps"}, str or torch.device, default="auto"
        Where to train. ``"auto"`` picks CUDA, then MPS, then the CPU; asking
        for a missing accelerator raises. The fitted map is kept in numpy
        arrays, so ``transform`` runs on the CPU whatever the device.

    random_state : int, RandomState instance or None, default=None
        Seeds the minibatch order, the MLP initialisation and the randomness
        of the dispersion loss; an int gives repeatable fits on the CPU.

    verbose : int, default=0
        Non-zero shows a tqdm progress bar with the current loss; 0 prints
        nothing."""

_COMMON_ATTRIBUTES = """\
n_components_ : int
        Dimension of the output sphere.

    components_ : ndarray of shape (n_components_, n_features_in_)
        Linear part W of the map.

    mean_ : ndarray of shape (n_features_in_,)
        Mean of the training data, subtracted before the map.

    input_scale_ : float
        RMS coordinate of the centred training data (the MLP branch divides
        its input by it).

    hidden_weights_ : ndarray of shape (n_hidden, n_features_in_)
        First layer U of the MLP branch (only with ``map="mlp"``).

    hidden_bias_ : ndarray of shape (n_hidden,)
        Bias b of the MLP branch (only with ``map="mlp"``).

    output_weights_ : ndarray of shape (n_components_, n_hidden)
        Output layer V of the MLP branch (only with ``map="mlp"``).

    fidelity_scale_ : float
        Fidelity of uniform random points on the first batch (see Notes).

    dispersion_scale_ : float
        Calibration scale of the dispersion loss (see Notes).

    loss_curve_ : list of float
        Objective of every optimisation step.

    n_iter_ : int
        Number of optimisation steps run.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names."""

_CALIBRATION_NOTES = """\
Both terms of the objective are calibrated on the first minibatch so that
    ``dispersion_weight`` means the same for every method and every data set.
    The fidelity is divided by ``fidelity_scale_``, its expected value for
    uniform random points (1/m + the mean squared input cosine), so it reads
    0 when the input geometry is kept and about 1 when it is lost. The
    dispersion loss D is shifted by its value D(Z0) at the initial embedding Z0
    and divided by ``dispersion_scale_ = max(D(Z0) - E D(U), 0.05 * sum_i
    ||grad_i D(Z0)||)``, where U are uniform random points and grad_i the
    tangent gradient at point i. The term is therefore 0 at the start and
    about -1 once the batch is as spread as uniform random points, so with
    ``dispersion_weight=1`` reaching uniform spread is worth as much as losing
    the input geometry. The floor (the first-order gain of moving every point
    by 0.05 rad) takes over for data that are already about as spread as
    uniform points, whose gap would otherwise be near zero. Measured on the
    digits data, weights 0.1 / 1 / 10 give fidelity terms of about 0.01 /
    0.2 / 0.5 for every method (the sliced loss is about half as strong).

    ``transform`` treats every row on its own, keeps float32 and float64, and
    returns rows that the map sends to exactly zero as zero rows."""


def _fill_docstring(cls):
    cls.__doc__ = (
        cls.__doc__.replace("%(common_parameters)s", _COMMON_PARAMETERS)
        .replace("%(common_attributes)s", _COMMON_ATTRIBUTES)
        .replace("%(calibration_notes)s", _CALIBRATION_NOTES)
    )
    return cls


class _BaseDisperser(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared fit/transform; subclasses name their dispersion loss."""

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "dispersion_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "map": [StrOptions(set(MAPS))],
        "fidelity": [StrOptions(set(FIDELITIES))],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        n_components=None,
        dispersion_weight=1.0,
        map="linear",
        fidelity="cosine",
        learning_rate=3e-3,
        max_iter=300,
        batch_size=256,
        tol=1e-4,
        n_iter_no_change=50,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.dispersion_weight = dispersion_weight
        self.map = map
        self.fidelity = fidelity
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _dispersion_spec(self):
        """(name in LOSSES, keyword parameters) of this estimator's loss."""
        raise NotImplementedError

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the map from R^d onto the sphere.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; never modified. Sparse input is not supported.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        name = type(self).__name__
        _reject_strings(X, name)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise ValueError(
                f"n_samples={n_samples}: {name} needs at least 2 samples to "
                "learn a map (pairwise similarities need pairs)."
            )
        n_components = n_features if self.n_components is None else self.n_components
        if n_components > n_features:
            raise ValueError(
                f"n_components={n_components} must be at most "
                f"n_features={n_features} (the number of input features)."
            )
        method, method_params = self._dispersion_spec()
        dispersion = _make_dispersion(method, method_params, name)
        device = resolve_device(self.device)
        mean, input_scale = _centre_statistics(X, name)

        rng = check_random_state(self.random_state)
        init_generator = make_generator(rng, "cpu")
        generator = make_generator(rng, device)
        sample = (
            X[rng.choice(n_samples, _PCA_INIT_ROWS, replace=False)]
            if (n_samples > _PCA_INIT_ROWS and n_components < n_features)
            else X
        )
        components = initial_components(sample, mean, n_components)
        fidelity, fidelity_reference = FIDELITIES[self.fidelity]
        module = build_map(
            self.map,
            torch.as_tensor(components, dtype=torch.float32),
            input_scale=input_scale,
            generator=init_generator,
        ).to(device)
        if n_components == 1:
            # S^0 is two points: the sign of a projection has zero gradient,
            # so there is nothing to optimise; keep the first principal axis.
            result = TrainingResult(calibration=Calibration(np.nan, np.nan, np.nan))
        else:
            result = train_map(
                X,
                mean,
                module,
                fidelity=fidelity,
                fidelity_reference=fidelity_reference,
                dispersion=dispersion,
                dispersion_weight=float(self.dispersion_weight),
                learning_rate=float(self.learning_rate),
                max_iter=int(self.max_iter),
                batch_size=int(self.batch_size),
                tol=None if self.tol is None else float(self.tol),
                n_iter_no_change=int(self.n_iter_no_change),
                device=device,
                rng=rng,
                generator=generator,
                verbose=self.verbose,
                name=name,
            )
        params = normalise_scale(module.export())
        if not all(np.isfinite(value).all() for value in params.values()):
            raise ValueError(
                f"{name}: the map's parameters became non-finite during "
                "training; try a lower learning_rate."
            )
        self.n_components_ = n_components
        self.mean_ = mean
        self.input_scale_ = input_scale
        self.components_ = params["components"]
        if self.map == "mlp":
            self.hidden_weights_ = params["hidden_weights"]
            self.hidden_bias_ = params["hidden_bias"]
            self.output_weights_ = params["output_weights"]
        self.fidelity_scale_ = result.calibration.fidelity_scale
        self.dispersion_scale_ = result.calibration.dispersion_scale
        self.loss_curve_ = result.loss_curve
        self.n_iter_ = result.n_iter
        return self

    def transform(self, X):
        """Embed rows of X on the unit sphere with the learned map.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Rows to embed; never modified.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components_)
            Unit rows, float32 for float32 input and float64 otherwise.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return apply_map(
            self._map_params(), self.mean_, X, input_scale=self.input_scale_
        )

    def __sklearn_is_fitted__(self):
        # validate_data sets n_features_in_ before training, so a fit that
        # fails part-way must not look fitted to check_is_fitted.
        return hasattr(self, "components_")

    def _map_params(self):
        params = {"components": self.components_}
        if hasattr(self, "hidden_weights_"):
            params["hidden_weights"] = self.hidden_weights_
            params["hidden_bias"] = self.hidden_bias_
            params["output_weights"] = self.output_weights_
        return params

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _make_dispersion(method, params, name):
    """The loss callable, built before any optimisation so that bad names or
    parameters fail early with the estimator's name in the message."""
    try:
        return get_loss(method, **params)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"{name}: invalid dispersion method {method!r} or "
            f"parameters {params!r}: {exc}"
        ) from exc


def _reject_strings(X, name):
    """Numeric strings would be parsed silently by ``validate_data``; text is
    almost always a mistake (a column of labels or words), so refuse it."""
    if isinstance(X, (list, tuple)):
        X = np.asarray(X, dtype=object)
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "OUS":
        return
    if X.dtype.kind in "US" or any(isinstance(v, (str, bytes)) for v in X.flat):
        raise ValueError(
            f"{name} needs numeric features, but X contains strings; encode "
            "text columns first (e.g. with an embedding model or OneHotEncoder)."
        )


def _centre_statistics(X, name):
    """Mean of X, RMS coordinate of X - mean, and a check that no row is the
    mean (such a row has no direction on the sphere)."""
    mean = X.mean(axis=0, dtype=np.float64)
    # "Zero" up to the rounding of the mean: a few ulps of the row's magnitude.
    tolerance = 16 * np.finfo(X.dtype).eps
    mean_norm = np.linalg.norm(mean)
    sum_squares = 0.0
    zero_rows = []
    for start in range(0, X.shape[0], _VALIDATION_BLOCK):
        block = X[start : start + _VALIDATION_BLOCK]
        centred = block - mean
        squares = np.einsum("ij,ij->i", centred, centred)
        sum_squares += float(squares.sum())
        limit = tolerance * (np.sqrt(np.einsum("ij,ij->i", block, block)) + mean_norm)
        zero_rows.extend((start + np.flatnonzero(np.sqrt(squares) <= limit)).tolist())
    if zero_rows:
        shown = ", ".join(map(str, zero_rows[:5])) + (
            ", ..." if len(zero_rows) > 5 else ""
        )
        raise ValueError(
            f"{name}: {len(zero_rows)} row(s) of X are all zero after centring "
            f"(equal to the column means; rows {shown}), so they have no "
            "direction on the sphere. Remove or perturb them."
        )
    input_scale = float(np.sqrt(sum_squares / X.size))
    return mean, input_scale


@_fill_docstring
class SphereDisperser(_BaseDisperser):
    """Learn a map onto the sphere that spreads points with the sliced loss.

    The sliced regulariser projects the embedded batch on random great
    circles (random 2-planes), sorts the angles on each circle and pulls them
    towards equal spacing; it costs O(n_projections * batch * (m + log batch))
    and needs no pairwise matrix. See :func:`sk_dispersion.losses.get_loss`.

    Parameters
    ----------
    n_projections : int >= 1, default=64
        Random great circles per minibatch.

    %(common_parameters)s

    Attributes
    ----------
    %(common_attributes)s

    See Also
    --------
    Disperser : Any method of :data:`sk_dispersion.losses.LOSSES` by name.
    MMDDisperser : Kernel (MMD to uniform) dispersion.

    Notes
    -----
    %(calibration_notes)s

    References
    ----------
    .. [1] E. Tokarchuk, H. Bakker, V. Niculae. "Keep your distance: learning
       dispersed embeddings on S_d". TMLR, 2025. arXiv:2502.08231.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_dispersion import SphereDisperser
    >>> X, _ = load_digits(return_X_y=True)
    >>> disperser = SphereDisperser(n_components=16, random_state=0).fit(X)
    >>> Z = disperser.transform(X)
    >>> Z.shape
    (1797, 16)
    >>> bool(np.allclose(np.linalg.norm(Z, axis=1), 1.0))
    True
    """

    _parameter_constraints: dict = {
        **_BaseDisperser._parameter_constraints,
        "n_projections": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_projections=64,
        n_components=None,
        dispersion_weight=1.0,
        map="linear",
        fidelity="cosine",
        learning_rate=3e-3,
        max_iter=300,
        batch_size=256,
        tol=1e-4,
        n_iter_no_change=50,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_components=n_components,
            dispersion_weight=dispersion_weight,
            map=map,
            fidelity=fidelity,
            learning_rate=learning_rate,
            max_iter=max_iter,
            batch_size=batch_size,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.n_projections = n_projections

    def _dispersion_spec(self):
        return "sliced", {"n_projections": int(self.n_projections)}


@_fill_docstring
class LloydDisperser(_BaseDisperser):
    """Learn a map onto the sphere that spreads points by online Lloyd steps.

    Every minibatch draws ``n_samples`` fresh uniform points on the sphere;
    the loss is their mean squared angle to the nearest embedded point, whose
    gradient moves each point towards the centre of its Voronoi cell (one
    stochastic step of centroidal Voronoi relaxation). Cost O(batch *
    n_samples * m), no pairwise matrix of the batch.

    Parameters
    ----------
    n_samples : int >= 1, default=1024
        Uniform samples drawn per minibatch.

    %(common_parameters)s

    Attributes
    ----------
    %(common_attributes)s

    See Also
    --------
    SphereDisperser : Sliced dispersion (great circles).

    Notes
    -----
    %(calibration_notes)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_dispersion import LloydDisperser
    >>> X, _ = load_digits(return_X_y=True)
    >>> LloydDisperser(n_components=16, random_state=0).fit_transform(X).shape
    (1797, 16)
    """

    _parameter_constraints: dict = {
        **_BaseDisperser._parameter_constraints,
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_samples=1024,
        n_components=None,
        dispersion_weight=1.0,
        map="linear",
        fidelity="cosine",
        learning_rate=3e-3,
        max_iter=300,
        batch_size=256,
        tol=1e-4,
        n_iter_no_change=50,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_components=n_components,
            dispersion_weight=dispersion_weight,
            map=map,
            fidelity=fidelity,
            learning_rate=learning_rate,
            max_iter=max_iter,
            batch_size=batch_size,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.n_samples = n_samples

    def _dispersion_spec(self):
        return "lloyd", {"n_samples": int(self.n_samples)}


@_fill_docstring
class MMDDisperser(_BaseDisperser):
    """Learn a map onto the sphere that spreads points with a kernel energy.

    The loss is the mean over pairs of the batch of a rotation-invariant
    kernel k(z_i, z_j); up to a constant it is the squared MMD between the
    batch and the uniform distribution on the sphere.

    Parameters
    ----------
    kernel : {"gaussian", "laplace", "riesz"}, default="gaussian"
        ``"gaussian"``: exp(-gamma ||z_i - z_j||^2); ``"laplace"``:
        exp(-gamma d_ij); ``"riesz"``: d_ij^(-s) for s > 0 and -log d_ij for
        s = 0 (the Thomson / minimum hyperspherical energy family).

    distance : {"chordal", "geodesic"}, default="chordal"
        The distance d_ij of the Laplace and Riesz kernels.

    gamma : float > 0, default=2.0
        Inverse length scale of the Gaussian and Laplace kernels.

    s : float >= 0, default=1.0
        Exponent of the Riesz kernel.

    %(common_parameters)s

    Attributes
    ----------
    %(common_attributes)s

    See Also
    --------
    Disperser : ``method="uniformity"`` for the Wang & Isola loss.

    Notes
    -----
    %(calibration_notes)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_dispersion import MMDDisperser
    >>> X, _ = load_digits(return_X_y=True)
    >>> MMDDisperser(kernel="riesz", s=1.0, random_state=0).fit_transform(X).shape
    (1797, 64)
    """

    _parameter_constraints: dict = {
        **_BaseDisperser._parameter_constraints,
        "kernel": [StrOptions({"gaussian", "laplace", "riesz"})],
        "distance": [StrOptions({"chordal", "geodesic"})],
        "gamma": [Interval(numbers.Real, 0, None, closed="neither")],
        "s": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        kernel="gaussian",
        distance="chordal",
        gamma=2.0,
        s=1.0,
        n_components=None,
        dispersion_weight=1.0,
        map="linear",
        fidelity="cosine",
        learning_rate=3e-3,
        max_iter=300,
        batch_size=256,
        tol=1e-4,
        n_iter_no_change=50,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_components=n_components,
            dispersion_weight=dispersion_weight,
            map=map,
            fidelity=fidelity,
            learning_rate=learning_rate,
            max_iter=max_iter,
            batch_size=batch_size,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.kernel = kernel
        self.distance = distance
        self.gamma = gamma
        self.s = s

    def _dispersion_spec(self):
        return "mmd", {
            "kernel": self.kernel,
            "distance": self.distance,
            "gamma": float(self.gamma),
            "s": float(self.s),
        }


@_fill_docstring
class MMADisperser(_BaseDisperser):
    """Learn a map onto the sphere that maximises each point's nearest angle.

    The MMA loss is minus the mean over the batch of each point's angle to
    its nearest neighbour in the batch: it pushes apart the closest pairs.

    Parameters
    ----------
    %(common_parameters)s

    Attributes
    ----------
    %(common_attributes)s

    See Also
    --------
    KoLeoDisperser : A smoother nearest-neighbour criterion.

    Notes
    -----
    %(calibration_notes)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_dispersion import MMADisperser
    >>> X, _ = load_digits(return_X_y=True)
    >>> MMADisperser(n_components=8, random_state=0).fit_transform(X).shape
    (1797, 8)
    """

    def _dispersion_spec(self):
        return "mma", {}


@_fill_docstring
class KoLeoDisperser(_BaseDisperser):
    """Learn a map onto the sphere with the Kozachenko-Leonenko regulariser.

    The KoLeo loss is minus the mean over the batch of the log distance of
    each point to its nearest neighbour (a differential-entropy estimate), so
    it spreads the points most where they are most crowded.

    Parameters
    ----------
    %(common_parameters)s

    Attributes
    ----------
    %(common_attributes)s

    See Also
    --------
    MMADisperser : Maximises nearest-neighbour angles directly.

    Notes
    -----
    %(calibration_notes)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_dispersion import KoLeoDisperser
    >>> X, _ = load_digits(return_X_y=True)
    >>> KoLeoDisperser(n_components=8, random_state=0).fit_transform(X).shape
    (1797, 8)
    """

    def _dispersion_spec(self):
        return "koleo", {}


@_fill_docstring
class Disperser(_BaseDisperser):
    """Learn a map onto the sphere with any dispersion method, chosen by name.

    The generic estimator for searches over methods, e.g.
    ``GridSearchCV(Disperser(), {"method": ["sliced", "mmd", "uniformity"]})``,
    and for methods without their own class (``"uniformity"``, ``"mmcs"``,
    ``"sliced_axis"``, ``"ssw"``).

    Parameters
    ----------
    method : str, default="sliced"
        A name in :data:`sk_dispersion.losses.LOSSES`.

    method_params : dict or None, default=None
        Keyword parameters of the method, passed to
        :func:`sk_dispersion.losses.get_loss` (e.g. ``{"t": 2.0}`` for
        ``"uniformity"``). Stored as given and never modified.

    %(common_parameters)s

    Attributes
    ----------
    %(common_attributes)s

    See Also
    --------
    SphereDisperser, LloydDisperser, MMDDisperser, MMADisperser, KoLeoDisperser

    Notes
    -----
    %(calibration_notes)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_dispersion import Disperser
    >>> X, _ = load_digits(return_X_y=True)
    >>> disperser = Disperser(method="uniformity", method_params={"t": 2.0},
    ...                       map="mlp", random_state=0)
    >>> disperser.fit_transform(X).shape
    (1797, 64)
    """

    _parameter_constraints: dict = {
        **_BaseDisperser._parameter_constraints,
        "method": [StrOptions(set(LOSSES))],
        "method_params": [dict, None],
    }

    def __init__(
        self,
        *,
        method="sliced",
        method_params=None,
        n_components=None,
        dispersion_weight=1.0,
        map="linear",
        fidelity="cosine",
        learning_rate=3e-3,
        max_iter=300,
        batch_size=256,
        tol=1e-4,
        n_iter_no_change=50,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_components=n_components,
            dispersion_weight=dispersion_weight,
            map=map,
            fidelity=fidelity,
            learning_rate=learning_rate,
            max_iter=max_iter,
            batch_size=batch_size,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.method = method
        self.method_params = method_params

    def _dispersion_spec(self):
        return self.method, dict(self.method_params or {})
