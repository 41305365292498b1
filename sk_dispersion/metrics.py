"""Exact, memory-bounded dispersion metrics of point sets on the unit hypersphere.

Every function normalises the rows of its input first, accepts numpy arrays or
torch tensors on any device, and never forms the N x N similarity matrix: pairs
are visited in square tiles of ``block_size x block_size`` similarities, so
memory stays O(N * m + block_size**2) while time is O(N**2 * m).

Angle metrics are exact, not float32 approximations. The tiles are computed in
float32 (fast) only to *find* the nearest pairs; a provable bound on the float32
rounding error decides which pairs can still be the nearest, and the angle of
each such pair is recomputed in float64 from the input rows with the stable
formula ``2 * atan2(||z_i - z_j||, ||z_i + z_j||)`` (accurate for tiny and for
near-antipodal angles, and exactly 0 for duplicate rows). The arccos of a
float32 cosine, by contrast, cannot resolve angles below about 0.02 degrees.

Angles are returned in degrees; radians are used internally.
"""

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse, stats

from sk_dispersion._torch import resolve_device
from sk_dispersion.sphere import normalize

__all__ = [
    "HubnessResult",
    "circular_variance",
    "dispersion_report",
    "hubness",
    "min_angle",
    "nearest_neighbor_angles",
    "riesz_energy",
    "uniformity",
]

# Tile side on the CPU: a 2048 x 2048 float32 tile is 16 MiB (32 MiB in
# float64). Smaller tiles were a little faster on one thread but much slower
# with several threads on a busy machine (one thread barrier per tile).
# Accelerators get larger tiles.
_CPU_BLOCK = 2048
_ACCELERATOR_BLOCK = 8192
# Float64 entries gathered at once when recomputing pair angles exactly (4 MiB).
_GATHER_BUDGET = 2**19
# Candidates per row first kept by the float64 re-search of ambiguous rows.
_REFINE_CANDIDATES = 16
# Chordal distances below sqrt(1e-6) are recomputed from the rows in the energy:
# 2 - 2 cos loses their relative precision to cancellation.
_NEAR_PAIR_D2 = 1e-6


@dataclass(frozen=True, eq=False)
class HubnessResult:
    """Hubness of a point set under cosine k-nearest neighbours.

    Attributes
    ----------
    k : int
        Number of neighbours per point.
    skewness : float
        Skewness of the k-occurrence distribution (0 when it is constant).
    antihub_fraction : float
        Share of points that are nobody's k-nearest neighbour.
    k_occurrence : ndarray of shape (n_samples,)
        Read-only; ``k_occurrence[j]`` counts the points that have ``j`` among
        their ``k`` nearest neighbours. It sums to ``n_samples * k``.
    """

    k: int
    skewness: float
    antihub_fraction: float
    k_occurrence: np.ndarray


# --------------------------------------------------------------------------
# Public metrics
# --------------------------------------------------------------------------


def min_angle(X, *, block_size=None, device="auto"):
    """Smallest angle between two distinct rows, in degrees (the Tammes objective).

    Parameters
    ----------
    X : array-like or Tensor of shape (n_samples, n_features)
        Points; rows are normalised to unit length first. Needs n_samples >= 2,
        finite values and no zero rows. Never modified.
    block_size : int, optional
        Side of the square tiles of pairwise similarities visited at a time
        (memory ~ 4 * block_size**2 bytes). Defaults to 2048 on the CPU and
        8192 on an accelerator.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        Where the tiles are computed.

    Returns
    -------
    float
        Minimum angle in degrees; 0.0 when two rows are identical (rows that
        are positive multiples of each other give 0 up to float64 rounding).

    See Also
    --------
    nearest_neighbor_angles : The nearest-neighbour angle of every row.

    Notes
    -----
    Only the tiles on and above the diagonal are computed (each unordered pair
    once). Every pair whose float32 cosine lies within twice the float32
    rounding bound of the largest cosine seen is recomputed in float64, so the
    result is the exact minimum up to float64 rounding; it equals
    ``nearest_neighbor_angles(X).min()``.

    Examples
    --------
    >>> import numpy as np
    >>> tetrahedron = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    >>> round(min_angle(tetrahedron), 2)
    109.47
    >>> min_angle([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    0.0
    """
    points = _Points(X, block_size, device)
    tol = 2 * points.search_tolerance
    best_cos = -math.inf
    best_angle = math.inf
    buffer = points.tile_buffer()
    for r0, r1 in points.spans:
        rows = points.unit[r0:r1]
        for c0, c1 in points.spans:
            if c1 <= r0:
                continue
            sims = _similarities(rows, points.unit[c0:c1], buffer)
            if c0 < r1:
                _mask_lower_and_self(sims, r0, c0)
            tile_max = float(sims.max())
            if tile_max == -math.inf or tile_max < best_cos - tol:
                continue
            best_cos = max(best_cos, tile_max)
            local = torch.nonzero(sims >= best_cos - tol)
            angle = float(points.exact_angles(local[:, 0] + r0, local[:, 1] + c0).min())
            best_angle = min(best_angle, angle)
            if best_angle == 0.0:
                return 0.0
    return math.degrees(best_angle)


def nearest_neighbor_angles(X, *, block_size=None, device="auto"):
    """Angle from every row to its nearest other row, in degrees.

    Parameters
    ----------
    X : array-like or Tensor of shape (n_samples, n_features)
        Points; rows are normalised to unit length first. Needs n_samples >= 2,
        finite values and no zero rows. Never modified.
    block_size : int, optional
        Side of the square tiles of pairwise similarities visited at a time
        (memory ~ 4 * block_size**2 bytes). Defaults to 2048 on the CPU and
        8192 on an accelerator.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        Where the tiles are computed.

    Returns
    -------
    ndarray of shape (n_samples,), float64
        ``angles[i]`` is the smallest angle between row ``i`` and any row
        ``j != i``; 0 when row ``i`` has a duplicate.

    Notes
    -----
    Each unordered pair is visited once in float32. When a row's best cosine
    beats all its others by more than twice the float32 rounding bound, that
    row is provably the nearest neighbour and the angle is recomputed in
    float64. Otherwise the row is searched again with float64 cosines and the
    angles to every row they cannot rank apart from the best (16 at first,
    more if needed) are recomputed, so the result is exact up to float64
    rounding. Identical rows get exactly 0; rows that are positive multiples of
    each other get 0 up to that rounding (below 1e-13 degrees).

    Examples
    --------
    >>> import numpy as np
    >>> nearest_neighbor_angles(np.eye(3))
    array([90., 90., 90.])
    >>> nearest_neighbor_angles([[1.0, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    array([ 45.,  45., 135.])
    """
    points = _Points(X, block_size, device)
    best, index, second = _nearest_two(points)
    ambiguous = second >= best - 2 * points.search_tolerance
    rows = torch.arange(points.n_samples, device=points.device)
    angles = points.exact_angles(rows, index)
    if bool(ambiguous.any()):
        suspect = torch.nonzero(ambiguous).flatten()
        angles[suspect.to(angles.device)] = _refined_nearest(points, suspect)
    return np.degrees(angles.cpu().numpy())


def circular_variance(X):
    """Circular variance ``1 - ||mean of the unit rows||``, in [0, 1].

    0 when all rows point the same way; close to 1 for rows spread evenly
    around the sphere (exactly 1 when their mean is the origin).

    Parameters
    ----------
    X : array-like or Tensor of shape (n_samples, n_features)
        Points; rows are normalised to unit length first. Never modified.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> circular_variance(np.vstack([np.eye(3), -np.eye(3)]))
    1.0
    >>> circular_variance([[1.0, 0.0], [3.0, 0.0]])
    0.0
    """
    source, scales = _checked_rows(X)
    total = torch.zeros(source.shape[1], dtype=torch.float64)
    for start in range(0, source.shape[0], _CPU_BLOCK):
        stop = start + _CPU_BLOCK
        unit = _unit_float64(source[start:stop], scales[start:stop], "cpu")
        total += unit.sum(dim=0)
    mean_norm = float(torch.linalg.vector_norm(total)) / source.shape[0]
    return float(max(0.0, 1.0 - mean_norm))


def riesz_energy(X, s=1.0, *, distance="chordal", block_size=None, device="auto"):
    """Mean Riesz s-energy (or log energy) over all unordered pairs of rows.

    .. math::

        E_s = \\binom{N}{2}^{-1} \\sum_{i<j} d(z_i, z_j)^{-s} \\quad (s > 0),
        \\qquad
        E_0 = \\binom{N}{2}^{-1} \\sum_{i<j} -\\log d(z_i, z_j).

    Lower is more dispersed. See Hardin and Saff, "Discretizing manifolds via
    minimum energy points", Notices of the AMS 51 (2004).

    Parameters
    ----------
    X : array-like or Tensor of shape (n_samples, n_features)
        Points; rows are normalised to unit length first. Never modified.
    s : float, default=1.0
        Riesz exponent, ``s >= 0``; ``s = 0`` gives the logarithmic energy.
    distance : {"chordal", "geodesic"}, default="chordal"
        ``||z_i - z_j||`` (in [0, 2]) or the angle in radians (in [0, pi]).
    block_size : int, optional
        Side of the square tiles (memory ~ 8 * block_size**2 bytes, float64).
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        Where the tiles are computed (float64; on MPS, which lacks float64, the
        CPU is used).

    Returns
    -------
    float
        ``inf`` when two rows coincide.

    Notes
    -----
    Tiles are computed in float64; pairs closer than 1e-3 (chordal) have their
    distance recomputed from the rows, where ``2 - 2 cos`` would cancel.

    Examples
    --------
    >>> import numpy as np
    >>> riesz_energy(np.vstack([np.eye(2), -np.eye(2)]), s=2.0)  # d^2: 2,2,2,2,4,4
    0.41666...
    >>> riesz_energy([[1.0, 0.0], [-1.0, 0.0]], s=0.0)  # -log 2
    -0.69314...
    """
    s = _check_real(s, "s", minimum=0.0)
    if distance not in ("chordal", "geodesic"):
        raise ValueError(f"distance must be 'chordal' or 'geodesic', got {distance!r}.")
    points = _Points(X, block_size, device, search=False)
    geodesic = distance == "geodesic"

    def kernel(dist):
        if s == 0.0:
            return -torch.log(dist)
        return dist.pow(-s)

    total = 0.0
    for r0, c0, sims, valid in _upper_tiles_float64(points):
        dist2 = sims.mul_(-2.0).add_(2.0).clamp_(0.0, 4.0)
        near = dist2 < _NEAR_PAIR_D2
        if valid is not None:
            near &= valid
        values = kernel(_distance_from_d2(dist2, geodesic))
        values.masked_fill_(near if valid is None else near | ~valid, 0.0)
        total += float(values.sum())
        if bool(near.any()):
            # 2 - 2 cos lost these pairs' relative precision: use the rows.
            pairs = torch.nonzero(near)
            angle = points.exact_angles(pairs[:, 0] + r0, pairs[:, 1] + c0)
            exact = angle if geodesic else 2.0 * torch.sin(angle / 2)
            total += float(kernel(exact).sum())
    n = points.n_samples
    return total / (n * (n - 1) / 2)


def uniformity(X, t=2.0, *, block_size=None, device="auto"):
    """Uniformity loss of Wang and Isola: log of the mean Gaussian potential.

    .. math::

        \\mathcal{L}_{\\mathrm{uniform}} = \\log \\binom{N}{2}^{-1}
        \\sum_{i<j} \\exp(-t \\, \\|z_i - z_j\\|^2).

    Lower is more uniform; the value lies in [-4 t, 0]. See T. Wang and P.
    Isola, "Understanding contrastive representation learning through alignment
    and uniformity on the hypersphere", ICML 2020.

    Parameters
    ----------
    X : array-like or Tensor of shape (n_samples, n_features)
        Points; rows are normalised to unit length first. Never modified.
    t : float, default=2.0
        Inverse temperature, ``t > 0``.
    block_size : int, optional
        Side of the square tiles (memory ~ 8 * block_size**2 bytes, float64).
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        Where the tiles are computed (float64; the CPU on MPS).

    Returns
    -------
    float

    Notes
    -----
    Computed in float64 with a running log-sum-exp, so a large ``t`` does not
    underflow to ``log 0``.

    Examples
    --------
    >>> import numpy as np
    >>> uniformity([[1.0, 0.0], [-1.0, 0.0]], t=2.0)  # log exp(-2 * 4)
    -8.0
    """
    t = _check_real(t, "t", minimum=0.0, strict=True)
    points = _Points(X, block_size, device, search=False)
    log_total = torch.tensor(-math.inf, dtype=torch.float64)
    for _r0, _c0, sims, valid in _upper_tiles_float64(points):
        exponents = sims.sub_(1.0).mul_(2.0 * t)  # -t * ||z_i - z_j||^2
        if valid is not None:
            exponents.masked_fill_(~valid, -math.inf)
        log_total = torch.logaddexp(
            log_total, torch.logsumexp(exponents.flatten(), 0).cpu()
        )
    n = points.n_samples
    return float(log_total) - math.log(n * (n - 1) / 2)


def hubness(X, k=10, *, block_size=None, device="auto"):
    """Hubness of the cosine k-nearest-neighbour graph.

    Parameters
    ----------
    X : array-like or Tensor of shape (n_samples, n_features)
        Points; rows are normalised to unit length first. Never modified.
    k : int, default=10
        Neighbours per point (a point is not its own neighbour),
        ``1 <= k <= n_samples - 1``.
    block_size : int, optional
        Side of the square tiles of similarities (memory ~ 4 * block_size**2
        bytes). Defaults to 2048 on the CPU and 8192 on an accelerator.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        Where the tiles are computed.

    Returns
    -------
    HubnessResult
        ``skewness`` is the Fisher-Pearson coefficient
        ``m3 / m2**1.5`` of the k-occurrence counts (``scipy.stats.skew`` with
        ``bias=True``, as in Radovanovic et al., "Hubs in space", JMLR 2010),
        0 when all counts are equal; ``antihub_fraction`` is the share of
        points with k-occurrence 0.

    Notes
    -----
    Neighbours are ranked by float32 cosine. Rows tied within float32
    resolution (duplicates in particular) are ranked in the arbitrary order of
    :func:`torch.topk`; duplicates are each other's neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> result = hubness(np.vstack([np.eye(3), -np.eye(3)]), k=4)
    >>> result.k_occurrence
    array([4, 4, 4, 4, 4, 4])
    >>> result.skewness, result.antihub_fraction
    (0.0, 0.0)
    """
    points = _Points(X, block_size, device)
    k = _check_k(k, points.n_samples)
    _, index = _top_k(points, k)
    return _hubness_from_index(index, k, points.n_samples)


def dispersion_report(X, k=10, *, block_size=None, device="auto"):
    """Headline dispersion metrics of a point set, as a JSON-ready dict.

    Parameters
    ----------
    X : array-like or Tensor of shape (n_samples, n_features)
        Points; rows are normalised to unit length first. Never modified.
    k : int, default=10
        Neighbours for hubness; lowered to ``n_samples - 1`` for small sets
        (the value used is reported as ``"hubness_k"``).
    block_size : int, optional
        Side of the square tiles (see :func:`nearest_neighbor_angles`).
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default="auto"
        Where the tiles are computed.

    Returns
    -------
    dict
        ``n_samples``, ``dim`` (ints); ``min_angle_deg``,
        ``mean_nn_angle_deg``, ``median_nn_angle_deg``, ``nn_angle_p05_deg``
        (5th percentile of the nearest-neighbour angles), ``circular_variance``,
        ``uniformity`` (``t = 2``), ``hubness_k`` (int), ``hubness_skewness``,
        ``antihub_fraction`` (floats). Angles are in degrees.

    Notes
    -----
    One k-nearest-neighbour pass serves both the hubness and the exact
    nearest-neighbour angles, and one float64 pass computes the uniformity.

    Examples
    --------
    >>> import numpy as np
    >>> report = dispersion_report(np.vstack([np.eye(3), -np.eye(3)]))
    >>> report["min_angle_deg"], report["hubness_k"], report["circular_variance"]
    (90.0, 5, 1.0)
    """
    points = _Points(X, block_size, device)
    n = points.n_samples
    k = _check_k(min(k, n - 1) if _is_int(k) else k, n)
    values, index = _top_k(points, max(k, 2) if n > 2 else 1)
    angles = _angles_from_top(points, values, index)
    hub = _hubness_from_index(index[:, :k], k, n)
    return {
        "n_samples": int(n),
        "dim": int(points.dim),
        "min_angle_deg": float(angles.min()),
        "mean_nn_angle_deg": float(angles.mean()),
        "median_nn_angle_deg": float(np.median(angles)),
        "nn_angle_p05_deg": float(np.percentile(angles, 5)),
        "circular_variance": circular_variance(points.source),
        "uniformity": uniformity(points.source, block_size=block_size, device=device),
        "hubness_k": int(k),
        "hubness_skewness": hub.skewness,
        "antihub_fraction": hub.antihub_fraction,
    }


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


class _Points:
    """Validated input plus what the tiled searches need.

    ``source`` is the caller's data as a tensor (never written to), ``scales``
    the largest absolute entry of each row (dividing by it first keeps the norm
    from overflowing), ``unit`` the float32 unit rows on the compute device.
    """

    def __init__(self, X, block_size, device, search=True):
        self.source, self.scales = _checked_rows(X)
        self.n_samples, self.dim = self.source.shape
        self.device = resolve_device(device)
        # MPS has no float64: exact work then happens on the CPU.
        self.exact_device = (
            torch.device("cpu") if self.device.type == "mps" else self.device
        )
        self.block = _check_block_size(block_size, self.device)
        self.spans = [
            (start, min(start + self.block, self.n_samples))
            for start in range(0, self.n_samples, self.block)
        ]
        self.unit = self._unit_rows(torch.float32, self.device) if search else None
        self.search_tolerance = _float32_dot_error(self.dim, self.device)
        self._unit64 = None

    def _unit_rows(self, dtype, device):
        unit = torch.empty(self.n_samples, self.dim, dtype=dtype, device=device)
        for start, stop in self.spans:
            rows = _unit_float64(
                self.source[start:stop], self.scales[start:stop], self.exact_device
            )
            unit[start:stop] = rows.to(device=device, dtype=dtype)
        return unit

    def tile_buffer(self):
        """Reusable float32 storage for one tile (saves an allocation per tile)."""
        size = min(self.block, self.n_samples) ** 2
        return torch.empty(size, dtype=torch.float32, device=self.device)

    @property
    def unit64(self):
        """Float64 unit rows on the exact device (built on first use)."""
        if self._unit64 is None:
            self._unit64 = self._unit_rows(torch.float64, self.exact_device)
        return self._unit64

    def exact_angles(self, i, j):
        """Float64 angles in radians between rows ``i[p]`` and ``j[p]``."""
        chunk = max(1, _GATHER_BUDGET // self.dim)
        parts = []
        for start in range(0, i.numel(), chunk):
            rows_i = self._gather_unit(i[start : start + chunk])
            rows_j = self._gather_unit(j[start : start + chunk])
            difference = torch.linalg.vector_norm(rows_i - rows_j, dim=1)
            total = torch.linalg.vector_norm(rows_i + rows_j, dim=1)
            parts.append(2.0 * torch.atan2(difference, total))
        if not parts:
            return torch.empty(0, dtype=torch.float64, device=self.exact_device)
        return torch.cat(parts)

    def _gather_unit(self, index):
        rows = self.source[index.to(self.source.device)]
        scales = self.scales[index.to(self.scales.device)]
        return _unit_float64(rows, scales, self.exact_device)


def _checked_rows(X):
    """Validated ``X`` as a tensor (possibly sharing memory) and its row scales."""
    source = _checked_tensor(X)
    return source, _row_scales(source)


def _checked_tensor(X):
    """Return ``X`` as a 2-D finite numeric tensor (possibly sharing memory)."""
    if isinstance(X, torch.Tensor):
        tensor = X.detach()
        if tensor.dtype == torch.bool or tensor.is_complex():
            raise TypeError(
                f"X must hold real numbers, got a tensor of dtype {tensor.dtype}."
            )
        if not tensor.is_floating_point():
            tensor = tensor.to(torch.float64)
    else:
        if sparse.issparse(X):
            raise TypeError(
                "X is a scipy sparse matrix; metrics need dense rows, pass X.toarray()."
            )
        array = np.asarray(X)
        if array.dtype.kind in "bcSUMmV":
            raise TypeError(f"X must hold real numbers, got dtype {array.dtype}.")
        if array.dtype not in (np.float16, np.float32, np.float64):
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"X must hold real numbers, got dtype {array.dtype} "
                    "that does not convert to float."
                ) from None
        array = np.ascontiguousarray(array)
        with warnings.catch_warnings():
            # Read-only arrays are fine: nothing here writes to the source.
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.as_tensor(array)
    if tensor.ndim != 2:
        raise ValueError(
            "X must be a 2-D array of shape (n_samples, n_features), got "
            f"{tensor.ndim} dimension(s) with shape {tuple(tensor.shape)}."
        )
    n_samples, n_features = tensor.shape
    if n_samples < 2:
        raise ValueError(
            f"X needs at least 2 rows to measure dispersion, got n_samples={n_samples}."
        )
    if n_features < 1:
        raise ValueError(f"X needs at least 1 column, got n_features={n_features}.")
    return tensor


def _row_scales(source):
    """Largest |entry| of each row in float64; raises on non-finite or zero rows.

    The scales live on the source's device, or the CPU for MPS (no float64).
    """
    device = torch.device("cpu") if source.device.type == "mps" else source.device
    scales = torch.empty(source.shape[0], dtype=torch.float64, device=device)
    for start in range(0, source.shape[0], _CPU_BLOCK):
        rows = source[start : start + _CPU_BLOCK]
        scales[start : start + _CPU_BLOCK] = rows.abs().amax(dim=1).to(device)
    # amax propagates NaN, and is infinite exactly when an entry is.
    finite = torch.isfinite(scales)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).flatten().tolist()
        shown = ", ".join(str(r) for r in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ValueError(
            f"X contains NaN or infinity in {len(bad)} row(s) (rows {shown})."
        )
    # A row is zero exactly when its largest entry is: the (n, 1) column of
    # scales goes through normalize so zero rows get the library-wide message.
    normalize(scales.unsqueeze(1), on_zero="raise")
    return scales


def _unit_float64(rows, scales, device):
    """Rows scaled to unit norm in float64 on ``device`` (no overflow)."""
    rows = rows.to(device=device).to(torch.float64)
    rows = rows / scales.to(device=device).unsqueeze(1)
    return rows / torch.linalg.vector_norm(rows, dim=1, keepdim=True)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_block_size(block_size, device):
    if block_size is None:
        return _CPU_BLOCK if device.type == "cpu" else _ACCELERATOR_BLOCK
    if not _is_int(block_size):
        raise TypeError(
            f"block_size must be a positive int, got {type(block_size).__name__}."
        )
    if block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size}.")
    return int(block_size)


def _check_k(k, n_samples):
    if not _is_int(k):
        raise TypeError(f"k must be an int, got {type(k).__name__}.")
    if not 1 <= k <= n_samples - 1:
        raise ValueError(
            f"k must be between 1 and n_samples - 1 = {n_samples - 1}, got k={k}."
        )
    return int(k)


def _check_real(value, name, minimum, strict=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    below = value <= minimum if strict else value < minimum
    if not math.isfinite(value) or below:
        relation = ">" if strict else ">="
        raise ValueError(
            f"{name} must be finite and {relation} {minimum}, got {value}."
        )
    return value


def _float32_dot_error(dim, device):
    """Bound on |float32 tile cosine - exact cosine| for unit rows of length dim.

    Rounding the float64 unit rows to float32 moves each dot product by at most
    2u, and a length-dim float32 dot product of unit vectors errs by at most
    dim * u / (1 - dim * u) whatever the summation order (u = 2**-24); a small
    margin covers the rest. Reduced-precision float32 matmuls (TF32 or bfloat16,
    enabled through torch.set_float32_matmul_precision) round their inputs to 8
    bits, which adds up to 2**-7.
    """
    unit_roundoff = 2.0**-24
    bound = (dim + 4) * unit_roundoff / (1 - dim * unit_roundoff)
    reduced = torch.get_float32_matmul_precision() != "highest" or (
        device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32
    )
    if reduced:
        bound += 2.0**-7
    return bound


def _float64_dot_error(dim):
    """Bound on |float64 tile cosine - exact cosine| of float64 unit rows."""
    unit_roundoff = 2.0**-53
    return (2 * dim + 8) * unit_roundoff


# --------------------------------------------------------------------------
# Tiled searches
# --------------------------------------------------------------------------


def _similarities(rows, cols, buffer):
    """Tile of cosines ``rows @ cols.T`` written into the flat ``buffer``."""
    sims = buffer[: rows.shape[0] * cols.shape[0]].view(rows.shape[0], cols.shape[0])
    return torch.mm(rows, cols.T, out=sims)


def _mask_self(sims, row_ids, c0):
    """Set to -inf the tile entries pairing a row with itself.

    ``row_ids`` are the global indices of the tile's rows and ``c0`` the global
    index of its first column. Only true self-pairs (global row == global
    column) are masked: an off-diagonal tile has none, whatever its local
    diagonal looks like.
    """
    inside = (row_ids >= c0) & (row_ids < c0 + sims.shape[1])
    if bool(inside.any()):
        local_rows = torch.nonzero(inside).flatten()
        sims[local_rows, row_ids[inside] - c0] = -math.inf


def _mask_lower_and_self(sims, r0, c0):
    """Mask entries with global column <= global row (each pair kept once)."""
    rows = torch.arange(r0, r0 + sims.shape[0], device=sims.device).unsqueeze(1)
    cols = torch.arange(c0, c0 + sims.shape[1], device=sims.device).unsqueeze(0)
    sims.masked_fill_(cols <= rows, -math.inf)


def _nearest_two(points):
    """Per row: nearest other row by float32 cosine, that cosine, and an upper
    bound on the float32 cosine of every other row.

    Pass 1 visits each unordered pair once (tiles on and above the diagonal)
    and keeps only values: each row's best tile maximum, which tile holds it,
    and the largest maximum of its other tiles. Pass 2 recomputes, for each
    row, its best tile alone to find the column and the runner-up inside it.
    """
    n = points.n_samples
    best = torch.full((n,), -math.inf, device=points.device)
    best_tile = torch.zeros(n, dtype=torch.long, device=points.device)
    others = torch.full((n,), -math.inf, device=points.device)

    def merge(start, stop, tile_max, tile):
        current = best[start:stop]
        improved = tile_max > current
        others[start:stop] = torch.maximum(
            others[start:stop], torch.where(improved, current, tile_max)
        )
        best_tile[start:stop] = torch.where(improved, tile, best_tile[start:stop])
        best[start:stop] = torch.maximum(current, tile_max)

    buffer = points.tile_buffer()
    for row_tile, (r0, r1) in enumerate(points.spans):
        rows = points.unit[r0:r1]
        row_ids = torch.arange(r0, r1, device=points.device)
        for col_tile, (c0, c1) in enumerate(points.spans):
            if col_tile < row_tile:
                continue
            sims = _similarities(rows, points.unit[c0:c1], buffer)
            _mask_self(sims, row_ids, c0)
            merge(r0, r1, sims.amax(dim=1), col_tile)
            if col_tile != row_tile:
                merge(c0, c1, sims.amax(dim=0), row_tile)

    index = torch.empty(n, dtype=torch.long, device=points.device)
    top = torch.empty(n, dtype=torch.float32, device=points.device)
    second = torch.empty(n, dtype=torch.float32, device=points.device)
    for col_tile, (c0, c1) in enumerate(points.spans):
        members = torch.nonzero(best_tile == col_tile).flatten()
        for start in range(0, members.numel(), points.block):
            row_ids = members[start : start + points.block]
            sims = _similarities(points.unit[row_ids], points.unit[c0:c1], buffer)
            _mask_self(sims, row_ids, c0)
            values, columns = sims.topk(min(2, c1 - c0), dim=1)
            index[row_ids] = columns[:, 0] + c0
            top[row_ids] = values[:, 0]
            runner_up = others[row_ids]
            if values.shape[1] == 2:
                runner_up = torch.maximum(runner_up, values[:, 1])
            second[row_ids] = runner_up
    return top, index, second


def _top_k_of(unit, row_ids, spans, k):
    """Cosines and columns of the k rows of ``unit`` most similar to ``row_ids``.

    Each query row itself is excluded. Memory: one tile plus (len(row_ids), k).
    """
    queries = unit[row_ids]
    n_rows = row_ids.numel()
    run_values = torch.full(
        (n_rows, k), -math.inf, dtype=unit.dtype, device=unit.device
    )
    run_index = torch.zeros(n_rows, k, dtype=torch.long, device=unit.device)
    width = max(c1 - c0 for c0, c1 in spans)
    buffer = torch.empty(n_rows * width, dtype=unit.dtype, device=unit.device)
    for c0, c1 in spans:
        sims = _similarities(queries, unit[c0:c1], buffer)
        _mask_self(sims, row_ids, c0)
        tile_values, tile_index = _tile_top_k(sims, k)
        merged = torch.cat([run_values, tile_values], dim=1)
        merged_index = torch.cat([run_index, tile_index + c0], dim=1)
        run_values, order = merged.topk(k, dim=1)
        run_index = merged_index.gather(1, order)
    return run_values, run_index


def _tile_top_k(sims, k, group=16):
    """Row-wise top-k (values, columns) of a contiguous tile, up to k per row.

    Column j falls in group j mod (width / group). The k groups with the
    largest maxima hold every top-k entry (an entry outside them would be
    beaten by k group maxima), so only their k * group entries are ranked:
    1.5x faster than a top-k of the whole row on the CPU.
    """
    n_rows, width = sims.shape
    n_groups = width // group
    if width % group or n_groups <= k:
        return sims.topk(min(k, width), dim=1)
    group_max = sims.view(n_rows, group, n_groups).amax(dim=1)
    best_groups = group_max.topk(k, dim=1).indices
    offsets = n_groups * torch.arange(group, device=sims.device)
    columns = (best_groups.unsqueeze(2) + offsets).view(n_rows, k * group)
    values, order = sims.gather(1, columns).topk(k, dim=1)
    return values, columns.gather(1, order)


def _top_k(points, k):
    """Float32 cosines and columns of each row's k most similar other rows."""
    values, index = [], []
    for r0, r1 in points.spans:
        row_ids = torch.arange(r0, r1, device=points.device)
        tile_values, tile_index = _top_k_of(points.unit, row_ids, points.spans, k)
        values.append(tile_values)
        index.append(tile_index)
    return torch.cat(values), torch.cat(index)


def _refined_nearest(points, rows):
    """Exact nearest-neighbour angles (radians) of ``rows`` via float64 searches.

    The float64 cosines rank neighbours up to a rounding bound; the angles to
    every row ranked within that bound of the best are recomputed exactly. The
    candidate list grows (x4) for the rare rows with more near-ties than it
    holds, unless an exact duplicate (angle 0) already settles the row.
    """
    n = points.n_samples
    unit = points.unit64
    tolerance = 2 * _float64_dot_error(points.dim)
    rows = rows.to(points.exact_device)
    result = torch.empty(rows.numel(), dtype=torch.float64, device=points.exact_device)
    pending = torch.arange(rows.numel(), device=points.exact_device)
    k = min(_REFINE_CANDIDATES, n - 1)
    while pending.numel():
        unresolved = []
        for start in range(0, pending.numel(), points.block):
            slots = pending[start : start + points.block]
            values, index = _top_k_of(unit, rows[slots], points.spans, k)
            pair_rows = rows[slots].unsqueeze(1).expand(-1, k).flatten()
            angles = points.exact_angles(pair_rows, index.flatten()).view(-1, k)
            nearest = angles.min(dim=1).values
            settled = (values[:, -1] < values[:, 0] - tolerance) | (nearest == 0)
            if k == n - 1:
                settled[:] = True
            result[slots[settled]] = nearest[settled]
            unresolved.append(slots[~settled])
        pending = torch.cat(unresolved)
        k = min(4 * k, n - 1)
    return result


def _angles_from_top(points, values, index):
    """Exact nearest-neighbour angles (degrees) from a top-k (k >= 2) search."""
    rows = torch.arange(points.n_samples, device=points.device)
    angles = points.exact_angles(rows, index[:, 0])
    if values.shape[1] >= 2:
        ambiguous = values[:, 1] >= values[:, 0] - 2 * points.search_tolerance
        if bool(ambiguous.any()):
            suspect = torch.nonzero(ambiguous).flatten()
            angles[suspect.to(angles.device)] = _refined_nearest(points, suspect)
    return np.degrees(angles.cpu().numpy())


def _hubness_from_index(index, k, n_samples):
    counts = torch.bincount(index.flatten().cpu(), minlength=n_samples).numpy()
    counts.setflags(write=False)
    if counts.min() == counts.max():
        skewness = 0.0  # a constant distribution is symmetric; scipy gives nan
    else:
        skewness = float(stats.skew(counts, bias=True))
    return HubnessResult(
        k=int(k),
        skewness=skewness,
        antihub_fraction=float(np.mean(counts == 0)),
        k_occurrence=counts,
    )


def _upper_tiles_float64(points):
    """Yield (r0, c0, cosines, valid) over float64 tiles holding each pair once.

    ``valid`` marks the entries with global column > global row on tiles that
    straddle the diagonal, and is None on tiles that lie wholly above it. The
    cosines live in a buffer reused for the next tile; callers may overwrite it.
    """
    unit = points.unit64
    size = min(points.block, points.n_samples) ** 2
    buffer = torch.empty(size, dtype=torch.float64, device=points.exact_device)
    for r0, r1 in points.spans:
        rows = unit[r0:r1]
        for c0, c1 in points.spans:
            if c1 <= r0:
                continue
            sims = _similarities(rows, unit[c0:c1], buffer)
            valid = None
            if c0 < r1:
                row_ids = torch.arange(r0, r1, device=sims.device).unsqueeze(1)
                col_ids = torch.arange(c0, c1, device=sims.device).unsqueeze(0)
                valid = col_ids > row_ids
            yield r0, c0, sims, valid


def _distance_from_d2(dist2, geodesic):
    dist = dist2.sqrt()
    if geodesic:
        return 2.0 * torch.asin((dist / 2.0).clamp_(max=1.0))
    return dist
