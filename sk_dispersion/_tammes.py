"""Solver for the Tammes problem: n unit vectors with the largest minimum angle.

Used by :func:`sk_dispersion.points.make_prototypes`; nothing here validates
user input. The pieces, in the order the solver uses them:

1. exact constructions where the optimum is known (Rankin 1955): a regular
   simplex for n <= dim + 1, signed basis vectors (a cross-polytope or part of
   one) for dim + 1 < n <= 2 dim;
2. multi-start annealing (``anneal``): many random starts optimised side by
   side in float32 on a soft minimum of log chordal distances,
   ``(1/s) log sum_{i<j} |z_i - z_j|^{-s}``, i.e. the log of the Riesz
   s-energy, with s raised geometrically so the energy tends to
   ``-log min |z_i - z_j|`` (the Tammes objective) while the early, smooth
   stage finds good basins;
3. a linear-programming polish (``lp_polish``) of the best distinct
   candidates in float64: sequential linear programming on the max-min
   objective itself, a tangent step that minimises the largest linearised
   cosine over the near-closest pairs inside a trust region, kept only when
   the true minimum angle improves;
4. retry rounds that alternate between perturbing the best configuration
   (basin hopping, noise from 2% to 50% of the expected angle) and fresh
   random starts, until a plateau, a round limit, a deadline or a target
   angle;
5. for many points (``anneal_knn``), the same energy restricted to each
   point's exact nearest neighbours, refreshed every few steps, so no n x n
   matrix is held.
"""

import contextlib
import math
import time

import numpy as np
import torch
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from sk_dispersion._riemannian import RiemannianAdam
from sk_dispersion.sphere import retract, tangent_project

# Beyond this many points the batched dense energy (B x n x n) is replaced by
# the nearest-neighbour energy.
DENSE_MAX_POINTS = 2000
# LP polish only while the LP stays small enough for HiGHS to solve quickly.
LP_MAX_VARIABLES = 12000
# Candidates are first polished until the trust region is this small, and only
# the best of them to convergence; candidates more than this fraction below the
# best angle so far are not polished at all.
_COARSE_RADIUS = 1e-6
_POLISH_SKIP = 0.005
# Heavy-ball coefficient of the momentum anneal.
_MOMENTUM = 0.9
# LPs with more constraint rows than this go to HiGHS's interior-point solver:
# on jammed configurations (thousands of near-equal closest pairs) it was 5-10x
# faster than dual simplex (240 points in R^8: 1.5-2 s against 7-19 s per LP).
_LP_IPM_ROWS = 1000


# --------------------------------------------------------------------------
# exact constructions
# --------------------------------------------------------------------------
def regular_simplex(n, dim):
    """n <= dim + 1 unit vectors with pairwise cosine -1/(n-1) (float64).

    The centred standard basis of R^n spans an (n-1)-dimensional subspace;
    an orthonormal basis of that subspace (from QR) maps it into R^(n-1),
    which is then padded with zeros up to ``dim``.
    """
    if n == 1:
        out = np.zeros((1, dim))
        out[0, 0] = 1.0
        return out
    centred = np.eye(n) - 1.0 / n
    basis, _ = np.linalg.qr(centred[:, : n - 1])
    coords = centred @ basis  # (n, n-1), rows of equal norm
    # QR fixes the basis only up to signs; make the first vertex's coordinates
    # non-negative so the output does not depend on the LAPACK build
    coords *= np.where(coords[0] < 0, -1.0, 1.0)
    coords /= np.linalg.norm(coords, axis=1, keepdims=True)
    out = np.zeros((n, dim))
    out[:, : n - 1] = coords
    return out


def signed_basis(n, dim):
    """First n of e_1, -e_1, e_2, -e_2, ...: all pairwise angles >= 90 deg."""
    out = np.zeros((n, dim))
    index = np.arange(n)
    out[index, index // 2] = np.where(index % 2 == 0, 1.0, -1.0)
    return out


def exact_construction(n, dim):
    """The known optimum when one exists among the constructions, else None."""
    if n <= dim + 1:
        return regular_simplex(n, dim)
    if n <= 2 * dim:
        return signed_basis(n, dim)
    return None


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def max_cosine(Z):
    """Largest off-diagonal cosine of the rows of Z (numpy, any n)."""
    Z = np.asarray(Z, dtype=np.float64)
    best = -1.0
    block = 2048
    for start in range(0, len(Z), block):
        C = Z[start : start + block] @ Z.T
        rows = np.arange(C.shape[0])
        C[rows, start + rows] = -np.inf
        best = max(best, float(C.max()))
    return best


def angle_deg(cosine):
    return math.degrees(math.acos(min(1.0, max(-1.0, cosine))))


def expected_angle(n, dim):
    """Rough minimum angle (radians) of a good packing; sets step sizes.

    Caps of angular radius theta/2 cover about 3/4 of the sphere's area.
    """
    log_area = math.log(2) + (dim / 2) * math.log(math.pi) - math.lgamma(dim / 2)
    log_cap = ((dim - 1) / 2) * math.log(math.pi) - math.lgamma((dim + 1) / 2)
    log_radius = (math.log(0.75) + log_area - log_cap - math.log(n)) / (dim - 1)
    return min(2 * math.exp(log_radius), math.pi / 2)


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run torch ops on ``n_threads`` intra-op threads, restoring the setting.

    The small batched tensors of the dense solver gain nothing from a thread
    pool, and on a busy machine waking the pool for each tiny op costs
    milliseconds (measured: 1000x slower than one thread under load).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _normalise_(Z):
    Z /= torch.linalg.vector_norm(Z, dim=-1, keepdim=True).clamp_min(1e-30)
    return Z


def _log_energy(Z, s):
    """Per start: (1/s) logsumexp over pairs of (-s log chordal distance).

    ``Z`` is (B, n, d) and ``s`` (B, 1). Each pair is counted twice, which only
    shifts the energy by log(2)/s.
    """
    n = Z.shape[1]
    C = Z @ Z.transpose(1, 2)
    eye = torch.eye(n, dtype=torch.bool, device=Z.device)
    log_dist = 0.5 * torch.log((2 - 2 * C).clamp_min(1e-12))
    # the diagonal gets distance e^4 (far), so it never enters the soft minimum
    log_dist = log_dist.masked_fill(eye, 4.0)
    scaled = (-s[:, :, None] * log_dist).flatten(1)
    return torch.logsumexp(scaled, dim=1) / s[:, 0]


def anneal(Z, s_start, s_end, n_steps, lr_start, lr_end, *, optimizer="adam"):
    """Anneal starts ``Z`` (B, n, d) in place of a copy; returns the result.

    s rises geometrically from ``s_start`` (one value per start) to ``s_end``;
    the step size falls geometrically from ``lr_start`` to ``lr_end``.
    ``optimizer`` is ``"adam"`` (Riemannian Adam) or ``"momentum"``: heavy-ball
    Riemannian gradient descent with each start's gradient divided by its mean
    per-point norm. Adam scales each coordinate on its own, which is not
    rotation-invariant; the momentum variant is, and on long schedules it
    finds rigid optima that Adam's starts miss (measured: E8's 240 roots in
    R^8 from 5 of 16 random starts in 1,000 steps, against 0 of 16 for Adam).
    """
    Z = Z.detach().clone()
    s_start = torch.as_tensor(s_start, dtype=Z.dtype, device=Z.device).reshape(-1, 1)
    adam = RiemannianAdam(Z) if optimizer == "adam" else None
    velocity = None if adam is not None else torch.zeros_like(Z)
    log_ratio = torch.log(s_end / s_start)
    for step in range(n_steps):
        frac = step / max(n_steps - 1, 1)
        s = s_start * torch.exp(frac * log_ratio)
        lr = lr_start * (lr_end / lr_start) ** frac
        Z.requires_grad_(True)
        energy = _log_energy(Z, s).sum()
        (grad,) = torch.autograd.grad(energy, Z)
        Z = Z.detach()
        if adam is not None:
            adam.step(Z, grad, lr)
            continue
        grad = tangent_project(Z, grad)
        scale = torch.linalg.vector_norm(grad, dim=-1, keepdim=True).mean(
            dim=-2, keepdim=True
        )
        velocity.mul_(_MOMENTUM).add_(grad / scale.clamp_min(1e-30))
        Z = retract(Z - (1 - _MOMENTUM) * lr * velocity)
        velocity = tangent_project(Z, velocity)
    return Z


def batch_max_cosine(Z):
    """Largest off-diagonal cosine of each start in a (B, n, d) tensor."""
    C = Z @ Z.transpose(1, 2)
    eye = torch.eye(Z.shape[1], dtype=torch.bool, device=Z.device)
    return C.masked_fill(eye, -2.0).flatten(1).max(dim=1).values


# --------------------------------------------------------------------------
# LP polish
# --------------------------------------------------------------------------
def _tangent_bases(Z):
    """Orthonormal bases (n, d, d-1) of the tangent spaces at the rows of Z."""
    n, d = Z.shape
    # Householder reflection H_i maps e_1 to z_i; its other columns span z_i's
    # tangent space.
    e1 = np.zeros(d)
    e1[0] = 1.0
    sign = np.where(Z[:, 0] >= 0, 1.0, -1.0)
    v = Z + sign[:, None] * e1
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    H = np.eye(d)[None] - 2 * v[:, :, None] * v[:, None, :]
    return H[:, :, 1:]


def lp_polish(
    Z,
    *,
    max_iter=80,
    radius=None,
    min_radius=1e-13,
    deadline=None,
    target_cosine=None,
):
    """Sequential linear programming on max_{i<j} z_i . z_j (float64 numpy).

    Each iteration takes tangent steps a_i (coordinates in a basis of the
    tangent space at z_i) minimising u subject to
    ``c_ij + (B_i^T z_j) . a_i + (B_j^T z_i) . a_j <= u`` for every pair that
    could become the closest within the trust region ``|a|_inf <= r``; the
    step is kept only when the true largest cosine goes down, and the region
    shrinks until ``r < min_radius`` or the largest cosine reaches
    ``target_cosine``. Returns (Z, largest cosine).
    """
    Z = np.array(Z, dtype=np.float64)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    n, d = Z.shape
    n_var = n * (d - 1)
    current = max_cosine(Z)
    if radius is None:
        radius = 0.05 * math.sqrt(max(2 - 2 * current, 1e-12))
    cost = np.zeros(n_var + 1)
    cost[-1] = 1.0
    bounds = np.empty((n_var + 1, 2))
    for _ in range(max_iter):
        if radius < min_radius or _past(deadline) or _reached(current, target_cosine):
            break
        C = Z @ Z.T
        # a pair's cosine moves by at most about 2 r sqrt(d-1) in one step
        margin = 2.5 * radius * math.sqrt(d - 1) + 1e-12
        I, J = np.nonzero(np.triu(C >= current - margin, 1))
        bases = _tangent_bases(Z)
        grad_i = np.einsum("pdk,pd->pk", bases[I], Z[J])
        grad_j = np.einsum("pdk,pd->pk", bases[J], Z[I])
        n_pairs = len(I)
        k = np.arange(d - 1)
        cols = np.column_stack(
            [
                I[:, None] * (d - 1) + k,
                J[:, None] * (d - 1) + k,
                np.full((n_pairs, 1), n_var),
            ]
        )
        vals = np.column_stack([grad_i, grad_j, -np.ones((n_pairs, 1))])
        A = csr_matrix(
            (vals.ravel(), cols.ravel(), np.arange(n_pairs + 1) * cols.shape[1]),
            shape=(n_pairs, n_var + 1),
        )
        bounds[:n_var] = (-radius, radius)
        bounds[n_var] = (-1.5, 1.5)
        method = "highs-ipm" if n_pairs > _LP_IPM_ROWS else "highs"
        result = linprog(cost, A_ub=A, b_ub=-C[I, J], bounds=bounds, method=method)
        if result.status != 0:
            radius /= 4
            continue
        step = result.x[:n_var].reshape(n, d - 1)
        candidate = Z + np.einsum("pdk,pk->pd", bases, step)
        candidate /= np.linalg.norm(candidate, axis=1, keepdims=True)
        new = max_cosine(candidate)
        predicted = result.x[-1]
        if new < current:
            ratio = (current - new) / max(current - predicted, 1e-300)
            Z, current = candidate, new
            if ratio > 0.5:
                radius = min(2 * radius, 0.5)
        else:
            radius /= 4
    return Z, current


# --------------------------------------------------------------------------
# dense multi-start solver
# --------------------------------------------------------------------------
def _distinct_best(cosines, k, tol=1e-5):
    """Indices of up to k starts with the smallest distinct max-cosines."""
    chosen = []
    for index in np.argsort(cosines):
        if all(abs(cosines[index] - cosines[c]) > tol for c in chosen):
            chosen.append(int(index))
        if len(chosen) == k:
            break
    return chosen


class _Progress:
    def __init__(self, verbose):
        self.verbose = verbose
        self.start = time.monotonic()

    def __call__(self, stage, cosine):
        if self.verbose:
            elapsed = time.monotonic() - self.start
            print(
                f"[make_prototypes] {stage:<22s} min angle "
                f"{angle_deg(cosine):.7f} deg  ({elapsed:.1f} s)",
                flush=True,
            )


def solve_dense(
    n,
    dim,
    generator,
    *,
    n_starts=64,
    n_steps=500,
    n_polish=6,
    max_rounds=30,
    plateau_rounds=6,
    deadline=None,
    target_cosine=None,
    verbose=0,
):
    """Multi-start annealing, LP polish and perturb-and-retry (n <= ~2000).

    Stops after ``max_rounds`` perturbation rounds, after a plateau of
    ``plateau_rounds`` rounds without improvement, once ``target_cosine`` (a
    best-known value) is reached, or at ``deadline`` (monotonic seconds).
    Returns (Z float64 (n, dim), largest cosine).
    """
    progress = _Progress(verbose)
    n_starts = max(4, min(n_starts, int(2e6 // (n * n))))
    theta = expected_angle(n, dim)
    s_end = 1000.0

    def fresh_starts():
        Z0 = _normalise_(torch.randn(n_starts, n, dim, generator=generator))
        # half the starts begin smooth (s = 1), half already sharper; a
        # quarter run the momentum anneal, twice as long, from s = 1
        half, quarter = n_starts // 2, n_starts // 4
        s_start = torch.ones(n_starts)
        s_start[half:] = 8.0
        lr = (0.05 * theta, 1e-4 * theta)
        adam = anneal(Z0[quarter:], s_start[quarter:], s_end, n_steps, *lr)
        momentum = anneal(
            Z0[:quarter],
            s_start[:quarter],
            s_end,
            2 * n_steps,
            2 * lr[0],
            lr[1],
            optimizer="momentum",
        )
        return torch.cat([momentum, adam])

    def perturbed(base):
        # perturbations from small (a local reshuffle) to large (a new basin)
        scale = theta * torch.logspace(
            math.log10(0.02), math.log10(0.5), n_starts, dtype=torch.float32
        )
        base = torch.as_tensor(base, dtype=torch.float32)
        noise = torch.randn(n_starts, n, dim, generator=generator)
        Zp = _normalise_(base[None] + scale[:, None, None] * noise)
        s_start = torch.full((n_starts,), 30.0)
        n_short = max(n_steps // 2, 50)
        return anneal(Zp, s_start, s_end, n_short, 0.02 * theta, 1e-4 * theta)

    Z = fresh_starts()
    cosines = batch_max_cosine(Z).double().numpy()
    progress("annealed", float(cosines.min()))

    polish_ok = n * (dim - 1) <= LP_MAX_VARIABLES

    def refine(candidates, incumbent=None):
        """Polish candidates coarsely, then the best of them to convergence.

        Candidates clearly worse than ``incumbent`` (a cosine) are skipped:
        the polish moves the angle by a fraction of a percent at most.
        """
        best = None
        for Zc in candidates:
            Zc = Zc.double().numpy()
            Zc = Zc / np.linalg.norm(Zc, axis=1, keepdims=True)
            cosine = max_cosine(Zc)
            known = [c for c in (incumbent, best and best[1]) if c is not None]
            if known and angle_deg(cosine) < (1 - _POLISH_SKIP) * angle_deg(min(known)):
                continue
            if polish_ok:
                Zc, cosine = lp_polish(
                    Zc,
                    min_radius=_COARSE_RADIUS,
                    deadline=deadline,
                    target_cosine=target_cosine,
                )
            if best is None or cosine < best[1]:
                best = (Zc, cosine)
            if _reached(cosine, target_cosine) or _past(deadline):
                break
        if best is not None and polish_ok and not _reached(best[1], target_cosine):
            best = lp_polish(
                best[0],
                radius=4 * _COARSE_RADIUS,
                deadline=deadline,
                target_cosine=target_cosine,
            )
        return best

    best_Z, best_cos = refine([Z[i] for i in _distinct_best(cosines, n_polish)])
    progress("polished", best_cos)

    stale = 0
    for round_index in range(max_rounds):
        if _reached(best_cos, target_cosine) or _past(deadline):
            break
        if stale >= plateau_rounds:
            break
        # alternate between hopping around the best basin and fresh starts
        # (some optima are rarely reached from a neighbouring basin)
        if round_index % 2 == 0:
            Zr, k = perturbed(best_Z), 2
        else:
            Zr, k = fresh_starts(), n_polish // 2
        cosines = batch_max_cosine(Zr).double().numpy()
        candidate = refine([Zr[i] for i in _distinct_best(cosines, k)], best_cos)
        if candidate is not None and candidate[1] < best_cos - 1e-12:
            best_Z, best_cos = candidate
            stale = 0
            progress(f"retry {round_index + 1} improved", best_cos)
        else:
            stale += 1
    return best_Z, best_cos


def _reached(cosine, target_cosine):
    return target_cosine is not None and cosine <= target_cosine


def _past(deadline):
    return deadline is not None and time.monotonic() > deadline


# --------------------------------------------------------------------------
# many points: nearest-neighbour energy
# --------------------------------------------------------------------------
def nearest_neighbours(Z, k, block=2048):
    """Indices (n, k) of each row's k most similar other rows (exact)."""
    n = Z.shape[0]
    out = torch.empty(n, k, dtype=torch.long, device=Z.device)
    for start in range(0, n, block):
        C = Z[start : start + block] @ Z.T
        rows = torch.arange(C.shape[0], device=Z.device)
        C[rows, start + rows] = -3.0
        out[start : start + block] = C.topk(k, dim=1).indices
    return out


def _knn_energy_grad(Z, neighbours, s, per_point):
    """Gradient of the soft-min log-distance energy over neighbour pairs.

    With ``per_point`` each point has its own soft minimum over its
    neighbours (every point is pushed by its closest ones); otherwise one
    soft minimum runs over all listed pairs. Only the gradient with respect to
    the point owning each neighbour list is kept: the lists are nearly
    symmetric, and skipping the scatter to the neighbours saves most of the
    cost.
    """
    Zn = Z[neighbours]  # (n, k, d)
    C = torch.einsum("nd,nkd->nk", Z, Zn)
    sq_dist = (2 - 2 * C).clamp_min(1e-12)
    logits = -0.5 * s * torch.log(sq_dist)
    if per_point:
        weights = torch.softmax(logits, dim=1)
    else:
        weights = torch.softmax(logits.flatten(), dim=0).reshape(logits.shape)
    return torch.einsum("nk,nkd->nd", weights / sq_dist, Zn)


def anneal_knn(
    Z,
    *,
    n_steps,
    k=12,
    refresh=5,
    s_start=4.0,
    s_end=1000.0,
    lr_start,
    lr_end,
    deadline=None,
    progress=None,
    per_point=True,
):
    """The log-energy over each point's k nearest neighbours only.

    The neighbour lists are recomputed exactly (blockwise) every ``refresh``
    steps, so memory is O(n k d). Returns the best iterate seen (the last
    steps can lose a little while s is still rising).
    """
    Z = Z.detach().clone()
    opt = RiemannianAdam(Z)
    best_Z, best_cos = Z.clone(), 2.0
    for step in range(n_steps):
        frac = step / max(n_steps - 1, 1)
        s = s_start * (s_end / s_start) ** frac
        lr = lr_start * (lr_end / lr_start) ** frac
        if step % refresh == 0:
            with torch.no_grad():
                neighbours = nearest_neighbours(Z, k)
                cosine = float((Z[:, None, :] * Z[neighbours[:, :1]]).sum(-1).max())
            if cosine < best_cos:
                best_Z, best_cos = Z.clone(), cosine
            if progress is not None and step % (refresh * 20) == 0:
                progress(f"knn step {step}", best_cos)
            if _past(deadline):
                break
        grad = _knn_energy_grad(Z, neighbours, s, per_point)
        opt.step(Z, grad, lr)
    with torch.no_grad():
        neighbours = nearest_neighbours(Z, 1)
        cosine = float((Z * Z[neighbours[:, 0]]).sum(-1).max())
    if cosine < best_cos:
        best_Z, best_cos = Z, cosine
    return best_Z, best_cos


def solve_knn(n, dim, generator, *, n_steps=240, deadline=None, verbose=0):
    """Large-n solver: one start, nearest-neighbour energy. Returns (Z, cos)."""
    progress = _Progress(verbose)
    # Adam moves every coordinate by about lr, a point by about lr sqrt(dim)
    step_scale = expected_angle(n, dim) / math.sqrt(dim)
    Z = torch.randn(n, dim, generator=generator, dtype=torch.float32)
    _normalise_(Z)
    Z, cosine = anneal_knn(
        Z,
        n_steps=n_steps,
        k=16,
        refresh=10,
        lr_start=0.05 * step_scale,
        lr_end=1e-3 * step_scale,
        deadline=deadline,
        progress=progress,
    )
    Z = Z.double().numpy()
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    cosine = max_cosine(Z)
    progress("nearest-neighbour anneal", cosine)
    return Z, cosine
