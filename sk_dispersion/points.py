"""Free points on the unit sphere: disperse given rows, or make new prototypes.

:func:`disperse` moves the rows of a matrix themselves (no learned map) with
Riemannian Adam on any regulariser of :mod:`sk_dispersion.losses`.
:func:`make_prototypes` solves the Tammes problem: n unit vectors whose
smallest pairwise angle is as large as possible.
"""

import math
import numbers
import time
from importlib import resources

import numpy as np
import torch
from sklearn.utils import check_array

from sk_dispersion import _tammes
from sk_dispersion._riemannian import RiemannianAdam
from sk_dispersion._torch import make_generator, resolve_device, to_numpy
from sk_dispersion.losses import get_loss
from sk_dispersion.sphere import normalize

__all__ = ["disperse", "make_prototypes"]

# Work limits of the default (deterministic) prototype solver. Time is only a
# safety cap, far above what the defaults need on a laptop-class CPU.
_SAFETY_CAP_S = 600.0
# The nearest-neighbour solver for many points stops after 110 s at most, so
# 10,000 prototypes in R^128 take under two minutes even on a busy 2-core CPU.
_KNN_SAFETY_CAP_S = 110.0
# A run stops early once it is within this many degrees of the best-known
# angle shipped with the package.
_BEST_KNOWN_TOL_DEG = 1e-6
# Best-known codes outside the shipped (Sloane-based) table that also stop a
# run once reached: the 24-cell's vertices in R^4 and the 240 roots of E8 in
# R^8, whose 60 degrees Levenshtein (1979) and Odlyzko & Sloane (1979) proved
# optimal for 240 points.
_EXTRA_BEST_KNOWN_DEG = {(4, 24): 60.0, (8, 240): 60.0}
# disperse() runs single-threaded on the CPU below this many entries (rows x
# columns) per step. Measured on 2 cores (10 steps): "sliced" was faster on one
# thread up to 2**19 entries (8192 x 64: 0.08-0.17 s vs 0.19-0.53 s on two),
# "sliced_axis" and "ssw" about as fast; the pairwise losses and "lloyd" were
# already 1.5-2x faster on two threads at 2**17 (1024 x 128 "mmd": 0.07 s vs
# 0.14 s).
_SMALL_PROBLEM = 2**17
_SMALL_PROBLEM_PROJECTIONS = 2**20
_PROJECTION_METHODS = frozenset({"sliced", "sliced_axis", "ssw"})


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------
def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer, got {value!r} ({type(value).__name__})."
        )
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {name}={value}.")
    return value


def _check_positive(value, name, *, allow_zero=False, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} ({type(value).__name__})."
        )
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {name}={value}.")
    return value


# --------------------------------------------------------------------------
# disperse
# --------------------------------------------------------------------------
def disperse(
    X,
    method="sliced",
    *,
    n_iter=1000,
    learning_rate=0.01,
    anchor_weight=0.0,
    batch_size=None,
    device="auto",
    random_state=None,
    verbose=0,
    return_loss_curve=False,
    **method_params,
):
    r"""Spread the rows of X over the unit sphere by moving them directly.

    The rows are normalised and then optimised as free points with
    Riemannian Adam: each step projects the gradient of

    .. math::

        L(Z) = \mathrm{dispersion}(Z_b)
               + \lambda \, \frac{1}{|b|}\sum_{i \in b} (1 - z_i^\top x_i)

    onto the tangent space at each row, takes an Adam step, and retracts by
    normalising (the Adam moments are projected onto the new tangent spaces).
    ``x_i`` is the normalised starting row, ``\lambda`` is ``anchor_weight``
    and ``b`` the current minibatch (all rows when ``batch_size`` is None).
    No map is learned; to embed new rows use the estimators instead.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Starting points; rows are normalised first. Never modified.
    method : str, default="sliced"
        A dispersion loss from :data:`sk_dispersion.losses.LOSSES`.
    n_iter : int, default=1000
        Number of Adam steps.
    learning_rate : float, default=0.01
        Adam step size (constant).
    anchor_weight : float, default=0.0
        Weight of the anchor term that keeps each row near its start.
    batch_size : int or None, default=None
        Rows per step. None uses all rows each step; an int draws minibatches
        from shuffled passes over the rows, so memory per step is that of one
        batch (moments and points still hold all rows).
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        Where to compute.
    random_state : int, RandomState instance or None, default=None
        Seeds the loss's random projections/samples and the minibatches.
        Runs on the CPU with the same seed give the same result.
    verbose : int, default=0
        If > 0, show a progress bar with the loss.
    return_loss_curve : bool, default=False
        Also return the loss (dispersion + anchor) of every step.
    **method_params
        Parameters of the loss, e.g. ``n_projections=32`` for "sliced"
        (see :func:`sk_dispersion.losses.default_params`).

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features)
        A new array of unit rows, float32 if X is float32 else float64.
    loss_curve : ndarray of shape (n_iter,)
        Only if ``return_loss_curve`` is True.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_dispersion import disperse
    >>> from sk_dispersion.metrics import min_angle
    >>> X = np.random.default_rng(0).normal(size=(50, 3)) + [4.0, 0.0, 0.0]
    >>> Z = disperse(X, method="mma", n_iter=300, random_state=0)
    >>> bool(min_angle(Z) > min_angle(X))
    True
    """
    X = check_array(
        X,
        dtype=[np.float64, np.float32],
        ensure_min_samples=2,
        input_name="X",
    )
    start = normalize(X)
    n_iter = _check_int(n_iter, "n_iter", 1)
    learning_rate = _check_positive(learning_rate, "learning_rate")
    anchor_weight = _check_positive(anchor_weight, "anchor_weight", allow_zero=True)
    if batch_size is not None:
        batch_size = min(_check_int(batch_size, "batch_size", 2), len(X))
    loss_fn = get_loss(method, **method_params)
    device = resolve_device(device)
    generator = make_generator(random_state, device)

    anchor = torch.as_tensor(start, device=device)
    Z = anchor.clone()
    # Small problems gain nothing from torch's CPU thread pool, and on a busy
    # machine waking it for every tiny op makes each step many times slower.
    rows_per_step = batch_size or len(X)
    limit = (
        _SMALL_PROBLEM_PROJECTIONS
        if loss_fn.name in _PROJECTION_METHODS
        else _SMALL_PROBLEM
    )
    small = device.type == "cpu" and rows_per_step * X.shape[1] < limit
    threads = 1 if small else torch.get_num_threads()
    with _tammes.torch_threads(threads):
        curve = _adam_loop(
            Z,
            anchor,
            loss_fn,
            n_iter,
            learning_rate,
            anchor_weight,
            batch_size,
            generator,
            verbose,
            method,
        )
    out = to_numpy(Z).astype(X.dtype, copy=False)
    return (out, curve) if return_loss_curve else out


def _adam_loop(
    Z,
    anchor,
    loss_fn,
    n_iter,
    learning_rate,
    anchor_weight,
    batch_size,
    generator,
    verbose,
    method,
):
    """Riemannian Adam steps on the rows of Z in place; returns the loss curve."""
    optimizer = RiemannianAdam(Z)
    curve = np.empty(n_iter)
    batches = _row_batches(len(Z), batch_size, generator, Z.device)
    bar = _progress_bar(n_iter, verbose, method)
    for step in range(n_iter):
        rows = next(batches)
        Z_batch = (Z if rows is None else Z[rows]).requires_grad_(True)
        loss = loss_fn(Z_batch, generator=generator)
        if anchor_weight > 0:
            anchor_batch = anchor if rows is None else anchor[rows]
            fidelity = (1 - (Z_batch * anchor_batch).sum(dim=1)).mean()
            loss = loss + anchor_weight * fidelity
        (grad,) = torch.autograd.grad(loss, Z_batch)
        Z_batch.requires_grad_(False)
        if not bool(torch.isfinite(grad).all()):
            raise FloatingPointError(
                f"The {method!r} loss produced a non-finite gradient at step "
                f"{step}; try a smaller learning_rate."
            )
        with torch.no_grad():
            optimizer.step(Z, grad, learning_rate, rows=rows)
        curve[step] = float(loss.detach())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{curve[step]:.4g}", refresh=False)
    if bar is not None:
        bar.close()
    return curve


def _row_batches(n_rows, batch_size, generator, device):
    """Yield None (all rows) forever, or index tensors of shuffled passes."""
    if batch_size is None or batch_size >= n_rows:
        while True:
            yield None
    while True:
        order = torch.randperm(n_rows, generator=generator, device=device)
        for begin in range(0, n_rows - batch_size + 1, batch_size):
            yield order[begin : begin + batch_size]


def _progress_bar(total, verbose, method):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"disperse[{method}]", leave=False)


# --------------------------------------------------------------------------
# make_prototypes
# --------------------------------------------------------------------------
def make_prototypes(n, dim, *, random_state=None, time_budget=None, verbose=0):
    """n unit vectors in R^dim with the largest minimum angle found.

    This is the Tammes problem (spherical codes). Where the optimum is known
    it is built exactly (Rankin 1955): for ``n <= dim + 1`` a regular simplex,
    pairwise angle ``arccos(-1/(n-1))``; for ``dim + 1 < n <= 2 dim`` signed
    basis vectors ``+e_1, -e_1, +e_2, ...``, all angles >= 90 degrees, which is
    optimal because more than ``dim + 1`` vectors always include a pair at
    90 degrees or less. Otherwise a solver runs: many random starts annealed
    side by side on a soft minimum of log chordal distances (the log of the
    Riesz s-energy with s raised to 1000; most starts by Riemannian Adam, a
    quarter by a rotation-invariant heavy-ball descent that finds rigid optima
    such as E8's roots), a linear-programming polish of the
    best distinct candidates on the max-min objective itself, then retry
    rounds that alternately perturb the best configuration and anneal fresh
    random starts, until no further gain. For more than
    2,000 points the energy is restricted to each point's exact nearest
    neighbours (refreshed every few steps) and the LP polish is skipped.

    Parameters
    ----------
    n : int
        Number of vectors, >= 1.
    dim : int
        Dimension, >= 1. In one dimension only n <= 2 is possible.
    random_state : int, RandomState instance or None, default=None
        Seeds the random starts and perturbations.
    time_budget : float or None, default=None
        None runs a fixed amount of work (starts, steps, retry rounds,
        stopping early at a plateau or on reaching the best-known angle for
        that (dim, n) in the table shipped with the package, or 60 degrees
        for 24 points in R^4 and 240 in R^8), so the result
        is reproducible for a given ``random_state``; only a safety cap
        (600 s, or 110 s for more than 2,000 points) can cut it short. A
        number of seconds instead keeps retrying until that time is spent (or
        the best-known angle is reached); the result then depends on the
        machine's speed. For more than 2,000 points the work is fixed and
        ``time_budget`` only caps it.
    verbose : int, default=0
        If > 0, print the progress of each stage.

    Returns
    -------
    ndarray of shape (n, dim), float64
        Unit rows.

    Examples
    --------
    >>> from sk_dispersion import make_prototypes
    >>> from sk_dispersion.metrics import min_angle
    >>> P = make_prototypes(6, 3)  # the octahedron
    >>> round(min_angle(P), 6)
    90.0
    >>> P = make_prototypes(12, 3, random_state=0)  # the icosahedron
    >>> round(min_angle(P), 4)
    63.4349
    """
    n = _check_int(n, "n", 1)
    dim = _check_int(dim, "dim", 1)
    time_budget = _check_positive(time_budget, "time_budget", allow_none=True)
    if dim == 1 and n > 2:
        raise ValueError(
            f"In dimension 1 the only unit vectors are +1 and -1, so at most n=2 "
            f"distinct prototypes exist (the antipodal pair); got n={n}."
        )
    exact = _tammes.exact_construction(n, dim)
    if exact is not None:
        return exact
    return _solve(n, dim, random_state, time_budget, verbose)


def _solve(n, dim, random_state, time_budget, verbose):
    generator = make_generator(random_state, "cpu")
    cap = _SAFETY_CAP_S if time_budget is None else time_budget
    deadline = time.monotonic() + cap
    target = _best_known_cosine(n, dim)
    # one intra-op thread: the dense solver's tensors are small, and on a busy
    # machine a woken thread pool costs more than it gains (see _tammes)
    with _tammes.torch_threads(1):
        if n > _tammes.DENSE_MAX_POINTS:
            if time_budget is None:
                deadline = time.monotonic() + _KNN_SAFETY_CAP_S
            Z, _ = _tammes.solve_knn(
                n, dim, generator, deadline=deadline, verbose=verbose
            )
            return Z
        Z, _ = _tammes.solve_dense(
            n,
            dim,
            generator,
            max_rounds=30 if time_budget is None else 10**9,
            plateau_rounds=4 if time_budget is None else 10**9,
            deadline=deadline,
            target_cosine=target,
            verbose=verbose,
        )
    return Z


_BEST_KNOWN = None


def _best_known_cosine(n, dim):
    """Cosine of the best-known angle for (dim, n) from the shipped table."""
    global _BEST_KNOWN
    if _BEST_KNOWN is None:
        text = resources.files("sk_dispersion").joinpath("data/tammes_best_known.csv")
        table = {}
        lines = text.read_text().splitlines()
        for line in lines[1:]:
            fields = line.split(",")
            table[(int(fields[0]), int(fields[1]))] = float(fields[2])
        _BEST_KNOWN = {**_EXTRA_BEST_KNOWN_DEG, **table}
    angle = _BEST_KNOWN.get((dim, n))
    if angle is None:
        return None
    return math.cos(math.radians(angle - _BEST_KNOWN_TOL_DEG))
