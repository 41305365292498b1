"""Helpers for the unit hypersphere S^{m-1}: normalisation with an explicit
zero-row policy, uniform sampling, random great circles (2-planes), and the
Riemannian projection/retraction used by the optimisers.

Functions taking ``generator`` draw all randomness from it (a
:class:`torch.Generator`), never from the global torch RNG.
"""

import numpy as np
import torch

from sk_dispersion._torch import eps_for

_ZERO_POLICIES = ("raise", "keep")


def normalize(X, *, on_zero="raise"):
    """Scale every row of ``X`` to unit Euclidean norm.

    Parameters
    ----------
    X : ndarray or Tensor of shape (n_samples, n_features)
        Rows to normalise. Never modified in place.
    on_zero : {"raise", "keep"}, default="raise"
        What to do with rows that are entirely zero: ``"raise"`` raises a
        ValueError naming the first such rows, ``"keep"`` returns them as zero
        rows (they then carry no direction). Rows of tiny or huge magnitude
        are normalised without underflow or overflow.

    Returns
    -------
    ndarray or Tensor
        Same type and shape as ``X``; same dtype for floating input (integer
        input gives float64 arrays or default-dtype tensors). Differentiable
        for tensors.

    Examples
    --------
    >>> import numpy as np
    >>> normalize(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]])
    """
    if on_zero not in _ZERO_POLICIES:
        raise ValueError(f"on_zero must be one of {_ZERO_POLICIES}, got {on_zero!r}")
    # Dividing each row by its largest |entry| first keeps the norm from
    # overflowing (huge rows) or underflowing (tiny rows) to a false zero.
    if isinstance(X, torch.Tensor):
        if not X.is_floating_point():
            X = X.to(torch.get_default_dtype())
        scale = X.abs().amax(dim=-1, keepdim=True).detach()
        zero = scale.squeeze(-1) == 0
        if on_zero == "raise" and bool(zero.any()):
            _raise_zero_rows(torch.nonzero(zero).flatten().tolist())
        one = torch.ones_like(scale)
        scaled = X / torch.where(zero.unsqueeze(-1), one, scale)
        norms = torch.linalg.vector_norm(scaled, dim=-1, keepdim=True)
        return scaled / torch.where(zero.unsqueeze(-1), one, norms)
    X = np.asarray(X)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    scale = np.max(np.abs(X), axis=-1, keepdims=True)
    zero = scale[..., 0] == 0
    if on_zero == "raise" and zero.any():
        _raise_zero_rows(np.flatnonzero(zero).tolist())
    scaled = X / np.where(zero[..., None], 1, scale).astype(X.dtype, copy=False)
    norms = np.linalg.norm(scaled, axis=-1, keepdims=True)
    return scaled / np.where(zero[..., None], 1, norms).astype(X.dtype, copy=False)


def _raise_zero_rows(rows):
    shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    raise ValueError(
        f"{len(rows)} row(s) have zero norm and no direction on the sphere "
        f"(rows {shown}); remove them or give them a direction."
    )


def uniform_sphere(n_points, dim, *, generator=None, device=None, dtype=torch.float32):
    """Draw ``n_points`` independent points uniformly on S^{dim-1}.

    Normalised standard Gaussian vectors are uniform on the sphere by rotation
    invariance.

    Returns
    -------
    Tensor of shape (n_points, dim)
    """
    gaussian = torch.randn(
        n_points, dim, generator=generator, device=device, dtype=dtype
    )
    norms = torch.linalg.vector_norm(gaussian, dim=1, keepdim=True)
    return gaussian / norms.clamp_min(eps_for(dtype))


def random_planes(n_planes, dim, *, generator=None, device=None, dtype=torch.float32):
    """Orthonormal bases (p, q) of ``n_planes`` random 2-planes of R^dim.

    Each plane cuts the sphere in a uniformly random great circle. The basis is
    the Q factor of an (dim, 2) Gaussian matrix, computed in at least float32
    (QR is not available in half precision).

    Returns
    -------
    Tensor of shape (n_planes, dim, 2)
        ``planes[l, :, 0]`` is p and ``planes[l, :, 1]`` is q.
    """
    if dim < 2:
        raise ValueError(f"A 2-plane needs dim >= 2, got dim={dim}.")
    work_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    gaussian = torch.randn(
        n_planes, dim, 2, generator=generator, device=device, dtype=work_dtype
    )
    basis, _ = torch.linalg.qr(gaussian, mode="reduced")
    return basis.to(dtype)


def random_axis_pairs(n_planes, dim, *, generator=None, device=None):
    """Index pairs (i, j), i != j, of ``n_planes`` random coordinate 2-planes.

    Returns
    -------
    LongTensor of shape (n_planes, 2)
    """
    if dim < 2:
        raise ValueError(f"A coordinate plane needs dim >= 2, got dim={dim}.")
    first = torch.randint(0, dim, (n_planes,), generator=generator, device=device)
    # Shifting by 1..dim-1 (mod dim) gives a second axis that is never the first.
    shift = torch.randint(1, dim, (n_planes,), generator=generator, device=device)
    return torch.stack([first, (first + shift) % dim], dim=1)


def tangent_project(Z, G):
    """Project ambient gradients ``G`` onto the tangent spaces at rows of ``Z``.

    Removes from each row of G its component along the matching unit row of Z:
    ``G - (G . z) z``.
    """
    return G - (G * Z).sum(dim=-1, keepdim=True) * Z


def retract(Z):
    """Map points back onto the sphere by normalising (the projective retraction)."""
    norms = torch.linalg.vector_norm(Z, dim=-1, keepdim=True)
    return Z / norms.clamp_min(eps_for(Z.dtype))


def angles_deg(cosines):
    """Angles in degrees from cosines, clipped to [-1, 1] first (numpy)."""
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))
