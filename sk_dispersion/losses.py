r"""Dispersion regularisers: differentiable torch functions of points on the sphere.

Every loss takes ``Z`` of shape (n_points, dim) whose rows are unit vectors
(points of :math:`S^{m-1}`), returns a 0-d tensor of Z's dtype on Z's device,
and is *lower when the points are more dispersed*. Each is an average (over
points, pairs, planes or samples), never a sum, so its scale does not grow with
the batch size. Randomness comes only from the ``generator`` argument (a
:class:`torch.Generator`); with ``generator=None`` a fresh generator seeded from
system entropy is used, and the global torch RNG is never touched.

Notation: :math:`c_{ij} = z_i^\top z_j`, :math:`t_{ij} = \arccos c_{ij}` (the
geodesic angle) and :math:`d_{ij} = \|z_i - z_j\| = \sqrt{2 - 2 c_{ij}}`.

Registry: :data:`LOSSES` maps a method name to its function and
:func:`get_loss` builds a validated callable from a name and parameters.
``"ssw"`` is always listed; using it without POT installed raises an
ImportError naming the ``ot`` extra.

Numerical safety. Distances inside ``log`` and negative powers are softened,
:math:`d^2 \to d^2 + \varepsilon` with :math:`\varepsilon` = 1e-6 in float32
(1e-12 in float64), cosines inside ``arccos`` are clamped to
:math:`[-1 + \varepsilon, 1 - \varepsilon]`, and angles of near pairs are
computed as :math:`2\,\mathrm{atan2}(\|z_i - z_j\|, \|z_i + z_j\|)`, which is
exact near 0 and :math:`\pi`. Coincident and antipodal points therefore give
finite losses and gradients. Half-precision input is computed in float32 and
the result cast back.

Known optima. Descending (projected gradient, decaying step) from random
starts reaches the optimal configurations of 4 and 6 points in R^3, d + 1
points in R^d (the simplex, angle arccos(-1/d)) and 2d points in R^d (the
cross-polytope, 90 deg) within 0.2 deg in our runs (the tests assert 1 deg)
for ``mmd`` (gaussian, laplace and riesz kernels, chordal or geodesic, and
the chordal log energy), ``uniformity``, ``mma``, ``mmcs`` and ``koleo``
(tests/test_losses.py). The
simplex and cross-polytope are universally optimal (Cohn & Kumar, 2007), so
every kernel that is completely monotone in the squared chordal distance has
them as minimisers. Exceptions, by design of the objective:

* ``sliced`` and ``ssw`` are stochastic and their minimisers for a few points
  are not the Tammes configurations: descending the sliced loss on 4000 fixed
  planes settles about 20 deg away from the tetrahedron, at a lower sliced loss
  than the tetrahedron's. They target uniformity of the projections, which
  matters for many points, not max-min angles for a handful.
* ``sliced_axis`` only looks at coordinate planes, so it is not rotation
  invariant and favours axis-aligned configurations.
* ``lloyd`` is minimised by centroidal Voronoi configurations (the optima
  above), but each call sees only ``n_samples`` random points, so descent
  fluctuates around them: 1000 steps with 2048 samples ended 0.4-1.4 deg
  away; 2000 decaying steps with 4096 samples reach 1 deg (a slow test).
* The geodesic log energy (``mmd``, kernel="riesz", s=0, distance="geodesic")
  prefers antipodal pairs: 4 points on a square beat the tetrahedron.
* ``mma`` / ``mmcs`` / ``koleo`` only feel each point's nearest neighbour and
  are non-smooth: plain descent with a fixed step oscillates and can stall; a
  decaying step converges.

Gradients are taken with respect to the ambient coordinates of Z. The losses
are defined on the sphere only, so the meaningful part of a gradient is its
tangent component (what a normalisation layer or a Riemannian optimiser
passes on); formulas that agree on the sphere, such as
:math:`\arccos c_{ij}` and :math:`2\,\mathrm{atan2}(\|z_i - z_j\|,
\|z_i + z_j\|)`, may differ in the radial component. The blockwise kernel
losses and the sliced losses compute their gradient in the forward sweep
(custom autograd functions), so they are differentiable once: no Hessians.
"""

import inspect
import math
import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from sk_dispersion._pairwise import (
    nearest_neighbors,
    nearest_rows,
    pairwise_cosine_mean,
    sampled_cosine_mean,
    sampled_pairs,
)
from sk_dispersion._torch import eps_for
from sk_dispersion.sphere import random_axis_pairs, random_planes, uniform_sphere

__all__ = [
    "LOSSES",
    "DispersionLoss",
    "default_params",
    "get_loss",
    "sliced_loss",
    "sliced_axis_loss",
    "lloyd_loss",
    "mmd_loss",
    "uniformity_loss",
    "mma_loss",
    "mmcs_loss",
    "koleo_loss",
    "ssw_loss",
]

KERNELS = ("gaussian", "laplace", "riesz")
DISTANCES = ("chordal", "geodesic")

# Projections onto a slice plane shorter than this have an ill-defined angle;
# their angle gradient is capped at 1 / _MIN_RADIUS instead of 1 / radius.
_MIN_RADIUS = 1e-3

# Entries (planes x points) of the sliced losses processed at once: their
# float32 temporaries then fit in a core's cache (measured 3.7x faster than
# all planes at once for 16 x 10^6).
_SLICE_CHUNK = 2**18


# --------------------------------------------------------------------------
# input handling and randomness
# --------------------------------------------------------------------------


def _prepare(Z, generator, *, min_dim=1):
    """Validate Z and return (work tensor, generator) for one loss call."""
    if not isinstance(Z, torch.Tensor):
        raise TypeError(
            f"Z must be a torch.Tensor of unit rows, got {type(Z).__name__}; "
            "convert with torch.as_tensor(X)."
        )
    if not Z.is_floating_point():
        raise TypeError(f"Z must have a floating dtype, got {Z.dtype}.")
    if Z.ndim != 2:
        raise ValueError(
            f"Z must be 2-D (n_points, dim), got {Z.ndim}-D with shape "
            f"{tuple(Z.shape)}."
        )
    if Z.shape[0] < 2:
        raise ValueError(
            f"Dispersion needs at least 2 points, got n_points={Z.shape[0]}."
        )
    if Z.shape[1] < min_dim:
        raise ValueError(
            f"This loss needs points of dimension >= {min_dim}, got dim={Z.shape[1]}."
        )
    # One cheap reduction: any NaN/inf makes the sum non-finite; the full
    # check runs only to confirm (unit rows cannot overflow the sum).
    if not bool(torch.isfinite(Z.detach().sum())) and not bool(
        torch.isfinite(Z.detach()).all()
    ):
        raise ValueError("Z contains NaN or infinite values.")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got "
            f"{type(generator).__name__}."
        )
    work = Z if Z.dtype in (torch.float32, torch.float64) else Z.float()
    return work, generator


def _generator(generator, device):
    """The caller's generator, or a fresh one seeded from system entropy."""
    if generator is not None:
        return generator
    fresh = torch.Generator(device=device)
    fresh.seed()
    return fresh


def _finish(loss, Z):
    return loss.to(Z.dtype)


def _soft_norm(V, eps):
    """Row norms softened at zero, sqrt(|v|^2 + eps^2): smooth, gradient <= 1."""
    return torch.sqrt((V * V).sum(dim=1) + eps * eps)


def _pair_angles(A, B):
    """Angles between matching unit rows, accurate near 0 and pi."""
    eps = eps_for(A.dtype)
    return 2.0 * torch.atan2(_soft_norm(A - B, eps), _soft_norm(A + B, eps))


# --------------------------------------------------------------------------
# sliced losses
# --------------------------------------------------------------------------


def _sort_rows_numpy(array):
    """Argsort of each row of a float numpy array.

    float32 rows are sorted as packed int64 keys (order-preserving bits of
    the value in the high half, the index in the low half): numpy's SIMD sort
    of int64 is 2-4x faster than its argsort (measured 0.17 s vs 0.39 s for
    16 x 10^6 here) and gives the order of a stable argsort (ties by index).
    Other dtypes use numpy's argsort.
    """
    if array.dtype != np.float32 or array.shape[-1] >= 2**31:
        return np.argsort(array, axis=-1)
    keys = array.view(np.int32).astype(np.int64)
    # sign-magnitude bits -> ordered integers: a negative float with magnitude
    # bits b gets -b (so -0.0 and 0.0 tie, as in a float comparison)
    keys ^= (keys >> 31) & 0x7FFFFFFF
    keys -= keys >> 63
    keys <<= 32
    keys |= np.arange(array.shape[-1], dtype=np.int64)
    keys.sort(axis=-1)
    keys &= 0xFFFFFFFF
    return keys


def _argsort_rows(values):
    """Argsort along the last dimension (no gradient).

    On the CPU numpy's vectorised sort is several times faster than
    torch.sort (measured 0.17 s vs 3.5 s for 16 x 10^6 float32); it releases
    the GIL, so rows are split over torch's threads.
    """
    if values.device.type != "cpu":
        return torch.argsort(values, dim=-1)
    array = values.numpy()
    n_threads = min(torch.get_num_threads(), array.shape[0])
    if n_threads < 2 or array.size < 2**18:
        return torch.from_numpy(_sort_rows_numpy(array))
    order = np.empty(array.shape, dtype=np.int64)
    chunks = np.array_split(np.arange(array.shape[0]), n_threads)

    def sort_chunk(rows):
        order[rows] = _sort_rows_numpy(array[rows])

    with ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(sort_chunk, chunks))
    return torch.from_numpy(order)


def _capped_angles(x, y):
    """atan2(y, x) whose gradient is capped where the projection is short.

    The value is exact; the gradient is ``(x dy - y dx) / max(r^2, r_min^2)``:
    the true angle gradient wherever r >= _MIN_RADIUS.
    """
    with torch.no_grad():
        angles = torch.atan2(y, x)
        radius2 = (x * x + y * y).clamp_min_(_MIN_RADIUS**2)
    x_value, y_value = x.detach(), y.detach()
    # x_value * y - y_value * x is exactly zero in value (IEEE products commute)
    # and carries the angle's gradient.
    return angles + (x_value * y - y_value * x) / radius2


class _CircleSpacing(torch.autograd.Function):
    """Mean over planes and points of 1/2 (phi_(k) - phi*_(k))^2, fused.

    Input: coordinates (L, 2, N) of the N points in L planes. The gradient is
    built in the same pass: with r_i = phi_i - phi*_rank(i) (the targets held
    constant), d/dx_i = -r_i y_i / rho_i^2 and d/dy_i = r_i x_i / rho_i^2,
    where rho_i^2 = max(x_i^2 + y_i^2, _MIN_RADIUS^2) caps the gradient of
    points whose projection is too short to define an angle.

    Planes are processed in groups of about ``_SLICE_CHUNK`` entries, so the
    angle, rank and residual temporaries stay cache-sized and memory is
    O(L N) for the coordinates and gradient plus O(chunk) extra.
    """

    @staticmethod
    def forward(ctx, coords):
        n_planes, _, n_points = coords.shape
        need_grad = ctx.needs_input_grad[0]
        k = torch.arange(1, n_points + 1, device=coords.device, dtype=coords.dtype)
        offsets = 2.0 * math.pi * k / n_points - math.pi - math.pi / n_points
        scale = 1.0 / (n_planes * n_points)
        grad = torch.empty_like(coords) if need_grad else None
        total = torch.zeros((), dtype=torch.float64, device=coords.device)
        step = max(1, _SLICE_CHUNK // n_points)
        if coords.device.type == "cpu" and n_points >= 2**18:
            step = max(step, torch.get_num_threads())  # one sort per thread
        for first in range(0, n_planes, step):
            planes = slice(first, first + step)
            x, y = coords[planes, 0], coords[planes, 1]
            angles = torch.atan2(y, x)
            order = _argsort_rows(angles).to(coords.device)
            # residual = angle - (mean angle + offset of its rank); targets
            # constant
            mean = angles.mean(dim=1, keepdim=True)
            ranked = torch.empty_like(angles).scatter_(
                1, order, offsets.expand_as(angles)
            )
            del order
            residual = angles.sub_(ranked).sub_(mean)
            del ranked
            total += torch.linalg.vector_norm(residual, dtype=torch.float64).square()
            if need_grad:
                weight = residual.div_(
                    (x * x).add_(y * y).clamp_min_(_MIN_RADIUS**2)
                ).mul_(scale)
                torch.mul(weight, y, out=grad[planes, 0]).neg_()
                torch.mul(weight, x, out=grad[planes, 1])
        if need_grad:
            ctx.save_for_backward(grad)
        return (0.5 * scale * total).to(coords.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        # loss.backward() seeds 1: skip a pass over 2 L N entries (CPU only, a
        # GPU would have to synchronise to know).
        if grad_output.device.type == "cpu" and grad_output.item() == 1.0:
            return grad
        return grad_output * grad


def _plane_coordinates(work, generator, n_projections):
    """Coordinates (L, 2, N) of the points in L random planes, one matmul."""
    n_points, dim = work.shape
    generator = _generator(generator, work.device)
    planes = random_planes(
        n_projections,
        dim,
        generator=generator,
        device=generator.device,
        dtype=work.dtype,
    ).to(work.device)
    # (2L, dim) @ (dim, N): row 2l is p_l, row 2l+1 is q_l.
    basis = planes.permute(0, 2, 1).reshape(2 * n_projections, dim)
    return (basis @ work.T).view(n_projections, 2, n_points)


def sliced_loss(Z, *, generator=None, n_projections=16):
    r"""Sliced dispersion on random great circles (Tokarchuk et al., 2025).

    Each of ``n_projections`` random 2-planes with orthonormal basis (p, q)
    (QR of a Gaussian ``dim x 2`` matrix) projects the points to angles
    :math:`\phi_i = \mathrm{atan2}(z_i^\top q, z_i^\top p)` on a circle, whose
    optimal dispersion is equal spacing. The sorted angles are pulled towards
    equally spaced targets held constant:

    .. math::

        \mathcal{L}(Z) = \frac{1}{L}\sum_{l=1}^{L} \frac{1}{N}\sum_{k=1}^{N}
        \tfrac12 \bigl(\phi^{(l)}_{(k)} - \phi^{*(l)}_{(k)}\bigr)^2, \qquad
        \phi^{*}_{(k)} = \bar\phi + \frac{2\pi k}{N} - \pi - \frac{\pi}{N}.

    The paper sums over points and planes; this averages so the scale does not
    grow with N. All planes share one matmul and one batched sort: cost
    O(L N (m + log N)), memory O(L N). Points whose projection is shorter than
    1e-3 get a capped angle gradient. The loss is stochastic (new planes each
    call), so descent reaches the known optima only approximately.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows, dim >= 2
    generator : torch.Generator, optional
        Source of the random planes.
    n_projections : int, default=16
        Number of planes L per call.

    Returns
    -------
    0-d Tensor

    References
    ----------
    .. [1] A. Tokarchuk, H. Bakker, V. Niculae, "Keep your distance: learning
       dispersed embeddings on S_d", TMLR 2025, arXiv:2502.08231.

    Examples
    --------
    >>> import torch
    >>> Z = torch.nn.functional.normalize(torch.randn(100, 8), dim=1)
    >>> loss = sliced_loss(Z, generator=torch.Generator().manual_seed(0))
    >>> loss.shape, bool(loss >= 0)
    (torch.Size([]), True)
    """
    _check_positive_int("n_projections", n_projections)
    work, generator = _prepare(Z, generator, min_dim=2)
    coords = _plane_coordinates(work, generator, n_projections)
    return _finish(_CircleSpacing.apply(coords), Z)


def sliced_axis_loss(Z, *, generator=None, n_projections=16):
    r"""Axis-aligned sliced dispersion: slices are random coordinate planes.

    Same objective as :func:`sliced_loss`, but each plane is spanned by two
    random coordinate axes :math:`(e_a, e_b)`, so the projection is a column
    gather, :math:`\phi_i = \mathrm{atan2}(z_{ib}, z_{ia})`, with no matmul:

    .. math::

        \mathcal{L}(Z) = \frac{1}{L}\sum_{l=1}^{L} \frac{1}{N}\sum_{k=1}^{N}
        \tfrac12 \bigl(\phi^{(l)}_{(k)} - \phi^{*(l)}_{(k)}\bigr)^2 .

    Only the coordinate planes are seen, so the loss is not rotation invariant
    (it favours configurations aligned with the axes); it is stochastic.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows, dim >= 2
    generator : torch.Generator, optional
    n_projections : int, default=16

    Returns
    -------
    0-d Tensor

    References
    ----------
    .. [1] A. Tokarchuk, H. Bakker, V. Niculae, "Keep your distance: learning
       dispersed embeddings on S_d", TMLR 2025, arXiv:2502.08231.

    Examples
    --------
    >>> import torch
    >>> Z = torch.nn.functional.normalize(torch.randn(100, 8), dim=1)
    >>> sliced_axis_loss(Z, generator=torch.Generator().manual_seed(0)).ndim
    0
    """
    _check_positive_int("n_projections", n_projections)
    work, generator = _prepare(Z, generator, min_dim=2)
    generator = _generator(generator, work.device)
    axes = random_axis_pairs(
        n_projections, work.shape[1], generator=generator, device=generator.device
    ).to(work.device)
    # Gathering columns of the row-major Z, then one transpose, is 3x faster on
    # a CPU than gathering rows of the strided view Z.T.
    coords = work.index_select(1, axes.flatten()).T.contiguous()
    return _finish(_CircleSpacing.apply(coords.view(-1, 2, work.shape[0])), Z)


# --------------------------------------------------------------------------
# Lloyd
# --------------------------------------------------------------------------


def lloyd_loss(Z, *, generator=None, n_samples=256, block_size="auto"):
    r"""Online spherical Lloyd / centroidal Voronoi loss (Tokarchuk et al., 2025).

    Draws M fresh points :math:`u_k` uniformly on the sphere each call and
    charges each the squared angle to its nearest point:

    .. math::

        \mathcal{L}(Z) = \frac{1}{M}\sum_{k=1}^{M} \min_i t(u_k, z_i)^2 .

    The gradient moves each :math:`z_i` towards the samples in its Voronoi cell:
    one stochastic step of spherical Lloyd relaxation. The nearest point is
    found blockwise without gradient (memory O(M * block), never M x N at
    once); the loss is then evaluated with autograd on the M gathered pairs.
    Cost O(N M m). Stochastic, and its minimisers are centroidal Voronoi
    tessellations, which coincide with the max-min (Tammes) optima only for
    the most symmetric configurations.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows
    generator : torch.Generator, optional
        Source of the uniform samples.
    n_samples : int, default=256
        Number M of uniform samples per call.
    block_size : int or "auto", default="auto"
        Rows of Z per block in the nearest-point search.

    Returns
    -------
    0-d Tensor

    References
    ----------
    .. [1] A. Tokarchuk, H. Bakker, V. Niculae, "Keep your distance: learning
       dispersed embeddings on S_d", TMLR 2025, arXiv:2502.08231.
    .. [2] Q. Du, M. Gunzburger, L. Ju, "Constrained centroidal Voronoi
       tessellations for surfaces", SIAM J. Sci. Comput. 24(5), 2003.

    Examples
    --------
    >>> import torch
    >>> Z = torch.nn.functional.normalize(torch.randn(50, 3), dim=1)
    >>> loss = lloyd_loss(Z, generator=torch.Generator().manual_seed(0))
    >>> bool(0 <= loss <= torch.pi**2)
    True
    """
    _check_positive_int("n_samples", n_samples)
    _check_block_size(block_size)
    work, generator = _prepare(Z, generator)
    generator = _generator(generator, work.device)
    samples = uniform_sphere(
        n_samples,
        work.shape[1],
        generator=generator,
        device=generator.device,
        dtype=work.dtype,
    ).to(work.device)
    nearest = nearest_rows(samples, work.detach(), block_size=block_size)
    return _finish(_pair_angles(samples, work[nearest]).square().mean(), Z)


# --------------------------------------------------------------------------
# kernel (MMD) losses
# --------------------------------------------------------------------------


def _chordal_kernel(kernel, gamma, s, eps):
    """f(c) and f'(c) for a kernel of the chordal distance d^2 = 2 - 2c."""
    if kernel == "gaussian":

        def pair_fn(c, need_grad):
            values = c.sub_(1.0).mul_(2.0 * gamma).exp_()
            return values, (2.0 * gamma if need_grad else None)

    elif kernel == "laplace":

        def pair_fn(c, need_grad):
            dist = c.mul_(-2.0).add_(2.0).clamp_min_(0.0).add_(eps).sqrt_()
            values = torch.exp(dist * -gamma)
            return values, (values.mul(gamma).div_(dist) if need_grad else None)

    elif s == 0:

        def pair_fn(c, need_grad):
            dist2 = c.mul_(-2.0).add_(2.0).clamp_min_(0.0).add_(eps)
            values = torch.log(dist2).mul_(-0.5)
            return values, (dist2.reciprocal_() if need_grad else None)

    else:

        def pair_fn(c, need_grad):
            dist2 = c.mul_(-2.0).add_(2.0).clamp_min_(0.0).add_(eps)
            values = dist2.pow(-0.5 * s)
            return values, (values.mul(s).div_(dist2) if need_grad else None)

    return pair_fn


def _geodesic_kernel(kernel, gamma, s, eps):
    """f(c) and f'(c) for a kernel g(t) of the geodesic angle t = arccos c.

    f'(c) = -g'(t) / sin t with the cosine clamped to [-1 + eps, 1 - eps].
    """
    if kernel == "gaussian":

        def profile(t):
            values = torch.exp(t.square() * -gamma)
            return values, -2.0 * gamma * t * values

    elif kernel == "laplace":

        def profile(t):
            values = torch.exp(t * -gamma)
            return values, -gamma * values

    elif s == 0:

        def profile(t):
            soft2 = t.square() + eps
            return -0.5 * torch.log(soft2), -t / soft2

    else:

        def profile(t):
            soft2 = t.square() + eps
            values = soft2.pow(-0.5 * s)
            return values, -s * t * values / soft2

    def pair_fn(c, need_grad):
        c = c.clamp_(-1.0 + eps, 1.0 - eps)
        values, slope = profile(torch.arccos(c))
        if not need_grad:
            return values, None
        sine = (1.0 - c).mul_(1.0 + c).sqrt_()
        return values, slope.div_(sine).neg_()

    return pair_fn


def _kernel_fn(kernel, distance, gamma, s, dtype):
    eps = eps_for(dtype)
    if distance == "chordal":
        return _chordal_kernel(kernel, gamma, s, eps)
    return _geodesic_kernel(kernel, gamma, s, eps)


def _pair_mean(work, pair_fn, generator, block_size, n_pairs, log_domain):
    n_points = work.shape[0]
    if n_pairs is None or n_pairs >= n_points * (n_points - 1) // 2:
        return pairwise_cosine_mean(
            work, pair_fn, block_size=block_size, log_domain=log_domain
        )
    generator = _generator(generator, work.device)
    rows, cols = sampled_pairs(n_points, n_pairs, generator, generator.device)
    return sampled_cosine_mean(
        work,
        pair_fn,
        rows.to(work.device),
        cols.to(work.device),
        log_domain=log_domain,
    )


def mmd_loss(
    Z,
    *,
    generator=None,
    kernel="gaussian",
    distance="chordal",
    gamma=2.0,
    s=1.0,
    block_size="auto",
    n_pairs=None,
):
    r"""Kernel energy of the points: MMD to the uniform law, up to a constant.

    .. math::

        \mathcal{L}(Z) = \binom{N}{2}^{-1} \sum_{i<j} k(z_i, z_j),

    with :math:`\rho` the chordal distance :math:`d_{ij}` or the geodesic angle
    :math:`t_{ij}` and the kernels

    * ``"gaussian"``: :math:`k = \exp(-\gamma \rho^2)`;
    * ``"laplace"``: :math:`k = \exp(-\gamma \rho)`;
    * ``"riesz"``: :math:`k = \rho^{-s}` for :math:`s > 0` and
      :math:`k = -\log \rho` for :math:`s = 0` (Thomson problem / minimum
      hyperspherical energy).

    For a rotation-invariant kernel,
    :math:`\mathrm{MMD}^2(\hat\mu_N, \sigma) = \frac{N-1}{N}\mathcal{L}(Z) +
    \mathrm{const}`, so minimising drives the points towards uniform. The sum
    is computed in row blocks over the upper triangle only, and the gradient
    :math:`\partial/\partial z_i = \sum_j k'(c_{ij}) z_j` is accumulated in the
    same sweep: memory O(N * block), never N x N. Riesz energies are softened
    (:math:`\rho^2 + \varepsilon`), which keeps them finite for coincident
    points; in float32 keep ``s`` below about 10 to avoid overflow there.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows
    generator : torch.Generator, optional
        Used only when ``n_pairs`` subsamples the pairs.
    kernel : {"gaussian", "laplace", "riesz"}, default="gaussian"
    distance : {"chordal", "geodesic"}, default="chordal"
    gamma : float > 0, default=2.0
        Inverse length scale of the gaussian and laplace kernels.
    s : float >= 0, default=1.0
        Riesz exponent; 0 means the logarithmic energy.
    block_size : int or "auto", default="auto"
        Rows per block; "auto" bounds one block to 16 MiB.
    n_pairs : int, optional
        If given (and fewer than all pairs), average over this many uniformly
        random pairs i != j instead of all of them (an unbiased estimate).

    Returns
    -------
    0-d Tensor

    References
    ----------
    .. [1] A. Gretton, K. Borgwardt, M. Rasch, B. Schoelkopf, A. Smola, "A
       kernel two-sample test", JMLR 13, 2012.
    .. [2] W. Liu, R. Lin, Z. Liu, L. Liu, Z. Yu, B. Dai, L. Song, "Learning
       towards minimum hyperspherical energy", NeurIPS 2018.
    .. [3] A. Tokarchuk, H. Bakker, V. Niculae, "Keep your distance: learning
       dispersed embeddings on S_d", TMLR 2025, arXiv:2502.08231.

    Examples
    --------
    >>> import torch
    >>> octahedron = torch.cat([torch.eye(3), -torch.eye(3)])
    >>> mmd_loss(octahedron, kernel="riesz", s=1.0)
    tensor(0.6657)
    """
    _check_kernel_params(kernel, distance, gamma, s)
    _check_block_size(block_size)
    _check_n_pairs(n_pairs)
    work, generator = _prepare(Z, generator)
    pair_fn = _kernel_fn(kernel, distance, float(gamma), float(s), work.dtype)
    loss = _pair_mean(work, pair_fn, generator, block_size, n_pairs, False)
    return _finish(loss, Z)


def uniformity_loss(Z, *, generator=None, t=2.0, block_size="auto", n_pairs=None):
    r"""Uniformity loss of Wang & Isola (2020): log of the mean Gaussian kernel.

    .. math::

        \mathcal{L}(Z) = \log \binom{N}{2}^{-1} \sum_{i<j}
        \exp\bigl(-t \|z_i - z_j\|^2\bigr).

    Computed blockwise with a running maximum (a streaming log-sum-exp), so it
    neither overflows nor underflows for large ``t``, and with the gradient
    fused into the same sweep. Memory O(N * block).

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows
    generator : torch.Generator, optional
        Used only when ``n_pairs`` subsamples the pairs.
    t : float > 0, default=2.0
    block_size : int or "auto", default="auto"
    n_pairs : int, optional
        Average over this many random pairs instead of all pairs.

    Returns
    -------
    0-d Tensor

    References
    ----------
    .. [1] T. Wang, P. Isola, "Understanding contrastive representation
       learning through alignment and uniformity on the hypersphere", ICML 2020.

    Examples
    --------
    >>> import torch
    >>> octahedron = torch.cat([torch.eye(3), -torch.eye(3)])
    >>> uniformity_loss(octahedron, t=2.0)
    tensor(-4.2186)
    """
    _check_positive_real("t", t)
    _check_block_size(block_size)
    _check_n_pairs(n_pairs)
    work, generator = _prepare(Z, generator)
    scale = 2.0 * float(t)

    def pair_fn(c, need_grad):
        log_weights = c.sub_(1.0).mul_(scale)  # -t (2 - 2c), slope 2t
        return log_weights, (scale if need_grad else None)

    loss = _pair_mean(work, pair_fn, generator, block_size, n_pairs, True)
    return _finish(loss, Z)


# --------------------------------------------------------------------------
# nearest-neighbour losses
# --------------------------------------------------------------------------


def _neighbor_pairs(work, generator, block_size, n_pairs):
    """(rows, neighbours) of each row's nearest other point.

    Exact and blockwise by default; with ``n_pairs`` the neighbour is the
    nearest among the partners in ``n_pairs`` random pairs (rows that drew no
    partner are left out).
    """
    n_points = work.shape[0]
    if n_pairs is None or n_pairs >= n_points * (n_points - 1) // 2:
        rows = torch.arange(n_points, device=work.device)
        return rows, nearest_neighbors(work.detach(), block_size=block_size)
    generator = _generator(generator, work.device)
    first, second = sampled_pairs(n_points, n_pairs, generator, generator.device)
    first, second = first.to(work.device), second.to(work.device)
    rows, partners = torch.cat([first, second]), torch.cat([second, first])
    with torch.no_grad():
        cosines = (work[rows] * work[partners]).sum(dim=1)
        best = torch.full((n_points,), -math.inf, dtype=work.dtype, device=work.device)
        best.scatter_reduce_(0, rows, cosines, reduce="amax")
        winners = cosines == best[rows]
        neighbor = torch.full((n_points,), -1, dtype=torch.long, device=work.device)
        neighbor[rows[winners]] = partners[winners]
        valid = torch.nonzero(neighbor >= 0).flatten()
    return valid, neighbor[valid]


def mma_loss(Z, *, generator=None, block_size="auto", n_pairs=None):
    r"""Minus the mean nearest-neighbour angle (maximise the minimal angles).

    .. math::

        \mathcal{L}(Z) = -\frac1N \sum_{i=1}^{N} \min_{j \ne i} t_{ij}.

    Nearest neighbours are found blockwise without gradient (each block pair
    visited once, O(N * block) memory); the angles to them are then computed
    with autograd on the gathered pairs, which gives the exact subgradient.
    Only each point's nearest neighbour feels a force, so plain descent can
    stall in configurations where the mean nearest angle is locally maximal.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows
    generator : torch.Generator, optional
        Used only when ``n_pairs`` subsamples the candidate pairs.
    block_size : int or "auto", default="auto"
    n_pairs : int, optional
        Look for each point's neighbour only among the partners it drew in
        this many random pairs.

    Returns
    -------
    0-d Tensor, in radians

    References
    ----------
    .. [1] R. Wang, X. Xie, et al., "MMA regularization: Decorrelating weights
       of neural networks by maximizing the minimal angles", NeurIPS 2020.

    Examples
    --------
    >>> import torch
    >>> octahedron = torch.cat([torch.eye(3), -torch.eye(3)])
    >>> mma_loss(octahedron)
    tensor(-1.5708)
    """
    _check_block_size(block_size)
    _check_n_pairs(n_pairs)
    work, generator = _prepare(Z, generator)
    rows, neighbors = _neighbor_pairs(work, generator, block_size, n_pairs)
    return _finish(-_pair_angles(work[rows], work[neighbors]).mean(), Z)


def mmcs_loss(Z, *, generator=None, block_size="auto", n_pairs=None):
    r"""Mean maximum cosine similarity (Mettes et al., 2019).

    .. math::

        \mathcal{L}(Z) = \frac1N \sum_{i=1}^{N} \max_{j \ne i} c_{ij}.

    The prototype objective of hyperspherical prototype networks. Computed
    like :func:`mma_loss`: blockwise neighbour search, then autograd on the
    gathered pairs. Like MMA it only sees nearest neighbours and may stall.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows
    generator : torch.Generator, optional
    block_size : int or "auto", default="auto"
    n_pairs : int, optional

    Returns
    -------
    0-d Tensor

    References
    ----------
    .. [1] P. Mettes, E. van der Pol, C. Snoek, "Hyperspherical prototype
       networks", NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> octahedron = torch.cat([torch.eye(3), -torch.eye(3)])
    >>> mmcs_loss(octahedron)
    tensor(0.)
    """
    _check_block_size(block_size)
    _check_n_pairs(n_pairs)
    work, generator = _prepare(Z, generator)
    rows, neighbors = _neighbor_pairs(work, generator, block_size, n_pairs)
    return _finish((work[rows] * work[neighbors]).sum(dim=1).mean(), Z)


def koleo_loss(Z, *, generator=None, block_size="auto", n_pairs=None):
    r"""Kozachenko-Leonenko entropy regulariser (Sablayrolles et al., 2019).

    .. math::

        \mathcal{L}(Z) = -\frac1N \sum_{i=1}^{N} \log \min_{j \ne i}
        \|z_i - z_j\|,

    the point-dependent part of the Kozachenko-Leonenko differential entropy
    estimator (up to sign), with the distance softened to
    :math:`\sqrt{d^2 + \varepsilon}` so coincident points stay finite.
    Computed like :func:`mma_loss`.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows
    generator : torch.Generator, optional
    block_size : int or "auto", default="auto"
    n_pairs : int, optional

    Returns
    -------
    0-d Tensor

    References
    ----------
    .. [1] A. Sablayrolles, M. Douze, C. Schmid, H. Jegou, "Spreading vectors
       for similarity search", ICLR 2019.
    .. [2] L. F. Kozachenko, N. N. Leonenko, "Sample estimate of the entropy of
       a random vector", Problemy Peredachi Informatsii 23(2), 1987.

    Examples
    --------
    >>> import torch
    >>> octahedron = torch.cat([torch.eye(3), -torch.eye(3)])
    >>> koleo_loss(octahedron)
    tensor(-0.3466)
    """
    _check_block_size(block_size)
    _check_n_pairs(n_pairs)
    work, generator = _prepare(Z, generator)
    rows, neighbors = _neighbor_pairs(work, generator, block_size, n_pairs)
    diff = work[rows] - work[neighbors]
    dist2 = (diff * diff).sum(dim=1) + eps_for(work.dtype)
    return _finish(-0.5 * torch.log(dist2).mean(), Z)


# --------------------------------------------------------------------------
# spherical sliced Wasserstein (POT)
# --------------------------------------------------------------------------


def _import_ot():
    try:
        import ot
    except ImportError as exc:
        raise ImportError(
            'The "ssw" loss needs POT (Python Optimal Transport); install it with '
            'pip install "sk-dispersion[ot]".'
        ) from exc
    return ot


def ssw_loss(Z, *, generator=None, n_projections=16):
    r"""Squared spherical sliced Wasserstein distance to the uniform law.

    .. math::

        \mathcal{L}(Z) = \mathrm{SSW}_2^2(\hat\mu_N, \sigma) =
        \frac1L \sum_{l=1}^{L} W_2^2\bigl(P^{U_l}_{\#}\hat\mu_N,
        \mathrm{Unif}(S^1)\bigr),

    where :math:`P^{U}` projects onto the great circle of the plane U. The
    circle coordinates are computed here (planes drawn from ``generator``,
    never from POT's or torch's global RNG) and the closed-form circle
    distance to the uniform law comes from POT's
    ``ot.lp.semidiscrete_wasserstein2_unif_circle``, as in
    ``ot.sliced_wasserstein_sphere_unif``. Returned squared (an average over
    planes), so the gradient stays finite at zero. Stochastic. Needs the
    ``ot`` extra: ``pip install "sk-dispersion[ot]"``.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim), unit rows, dim >= 2
    generator : torch.Generator, optional
    n_projections : int, default=16

    Returns
    -------
    0-d Tensor

    References
    ----------
    .. [1] C. Bonet, P. Berg, N. Courty, F. Septier, L. Drumetz, M.-T. Pham,
       "Spherical sliced-Wasserstein", ICLR 2023.
    """
    _check_positive_int("n_projections", n_projections)
    ot = _import_ot()
    work, generator = _prepare(Z, generator, min_dim=2)
    coords = _plane_coordinates(work, generator, n_projections)
    # POT's coordinate on [0, 1): (atan2(-y, -x) + pi) / (2 pi), taken from our
    # angles so points with a tiny projection keep a bounded gradient (POT's
    # own projection divides by the projection's norm).
    angles = _capped_angles(-coords[:, 0], -coords[:, 1])
    unit_coords = (angles + math.pi) / (2.0 * math.pi)
    ssw2 = ot.lp.semidiscrete_wasserstein2_unif_circle(unit_coords.T).mean()
    return _finish(ssw2, Z)


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------

LOSSES = {
    "sliced": sliced_loss,
    "sliced_axis": sliced_axis_loss,
    "lloyd": lloyd_loss,
    "mmd": mmd_loss,
    "uniformity": uniformity_loss,
    "mma": mma_loss,
    "mmcs": mmcs_loss,
    "koleo": koleo_loss,
    "ssw": ssw_loss,
}
"""Method name -> loss function ``fn(Z, *, generator=None, **params)``."""


def default_params(name):
    """The parameters of loss ``name`` with their default values.

    Parameters
    ----------
    name : str
        A key of :data:`LOSSES`.

    Returns
    -------
    dict

    Examples
    --------
    >>> default_params("sliced")
    {'n_projections': 16}
    """
    _check_name(name)
    signature = inspect.signature(LOSSES[name])
    return {
        key: param.default
        for key, param in signature.parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY and key != "generator"
    }


class DispersionLoss(torch.nn.Module):
    """A dispersion loss with its parameters bound: ``loss(Z, generator=None)``.

    Build it with :func:`get_loss`. ``name`` is the method name and ``params``
    the full parameter dict (defaults filled in). Being a parameter-free
    :class:`torch.nn.Module` it can sit next to the modules of a model.
    """

    def __init__(self, name, params):
        super().__init__()
        self.name = name
        self.params = dict(params)

    def forward(self, Z, generator=None):
        return LOSSES[self.name](Z, generator=generator, **self.params)

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"DispersionLoss({self.name!r}{', ' if args else ''}{args})"


def get_loss(name, **params):
    """Look up a loss by name and bind its parameters, validated now.

    Parameters
    ----------
    name : str
        One of the keys of :data:`LOSSES`.
    **params
        Parameters of that loss (see :func:`default_params`).

    Returns
    -------
    DispersionLoss
        Callable ``loss(Z, generator=None) -> 0-d Tensor`` with ``.name`` and
        ``.params``.

    Raises
    ------
    ValueError
        Unknown name or invalid parameter value.
    TypeError
        Unknown parameter name or parameter of the wrong type.
    ImportError
        ``"ssw"`` without POT installed.

    Examples
    --------
    >>> import torch
    >>> loss = get_loss("mmd", kernel="riesz", s=0)
    >>> loss
    DispersionLoss('mmd', kernel='riesz', distance='chordal', gamma=2.0, s=0, block_size='auto', n_pairs=None)
    >>> loss(torch.cat([torch.eye(3), -torch.eye(3)]))
    tensor(-0.4159)
    """  # noqa: E501
    defaults = default_params(name)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise TypeError(
            f"Unknown parameter(s) {', '.join(map(repr, unknown))} for loss "
            f"{name!r}; valid parameters: {', '.join(defaults) or 'none'}."
        )
    bound = {**defaults, **params}
    _validate_params(name, bound)
    if name == "ssw":
        _import_ot()
    return DispersionLoss(name, bound)


# --------------------------------------------------------------------------
# parameter validation
# --------------------------------------------------------------------------


def _check_name(name):
    if not isinstance(name, str) or name not in LOSSES:
        raise ValueError(
            f"Unknown dispersion method {name!r}; valid names: {', '.join(LOSSES)}."
        )


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_positive_int(key, value):
    if not _is_int(value):
        raise TypeError(f"{key} must be a positive int, got {value!r}.")
    if value < 1:
        raise ValueError(f"{key} must be a positive int, got {value!r}.")


def _check_real(key, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{key} must be a real number, got {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{key} must be finite, got {value!r}.")


def _check_positive_real(key, value):
    _check_real(key, value)
    if value <= 0:
        raise ValueError(f"{key} must be > 0, got {value!r}.")


def _check_block_size(block_size):
    if isinstance(block_size, str):
        if block_size != "auto":
            raise ValueError(
                f"block_size must be 'auto' or a positive int, got {block_size!r}."
            )
        return
    _check_positive_int("block_size", block_size)


def _check_n_pairs(n_pairs):
    if n_pairs is not None:
        _check_positive_int("n_pairs", n_pairs)


def _check_kernel_params(kernel, distance, gamma, s):
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}.")
    _check_positive_real("gamma", gamma)
    _check_real("s", s)
    if s < 0:
        raise ValueError(f"s must be >= 0 (0 = logarithmic energy), got {s!r}.")


def _validate_params(name, params):
    for key in ("n_projections", "n_samples"):
        if key in params:
            _check_positive_int(key, params[key])
    if "block_size" in params:
        _check_block_size(params["block_size"])
    if "n_pairs" in params:
        _check_n_pairs(params["n_pairs"])
    if "t" in params:
        _check_positive_real("t", params["t"])
    if name == "mmd":
        _check_kernel_params(
            params["kernel"], params["distance"], params["gamma"], params["s"]
        )
