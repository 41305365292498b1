"""The optimisation loop shared by every estimator: minibatch Adam on
``fidelity / fidelity_scale + weight * (dispersion - offset) / dispersion_scale``.

Kept apart from the estimators so it knows nothing about scikit-learn: it takes
validated numpy data, torch modules and loss callables, and returns the curve.
"""

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from sk_dispersion.sphere import uniform_sphere

# Losses are read back from the device (one synchronisation) every this many
# iterations; early stopping and the non-finite check act at that granularity.
CHECK_EVERY = 10
# Floating-point work per CPU thread per step below which extra intra-op
# threads cost more in synchronisation than they save (measured: a 256 x 300
# step ran 13x slower on 2 threads than on 1 on a loaded 2-core machine).
_FLOPS_PER_THREAD = 1e8
# Angle (radians) of the first-order move that floors the dispersion scale.
_FLOOR_ANGLE = 0.05
# Uniform reference batches averaged to calibrate the dispersion scale.
_N_REFERENCE_DRAWS = 4


@dataclass
class Calibration:
    """Scales that make the two terms of the objective comparable.

    ``fidelity_scale``: fidelity of uniform random points (see _fidelity.py).
    ``dispersion_offset``: dispersion of the initial embedding of the first batch.
    ``dispersion_scale``: see :func:`calibrate_dispersion`.
    """

    fidelity_scale: float
    dispersion_offset: float
    dispersion_scale: float


@dataclass
class TrainingResult:
    loss_curve: list = field(default_factory=list)
    n_iter: int = 0
    calibration: Calibration | None = None


def unit_rows(tensor):
    """Rows scaled to unit norm; zero rows stay finite (they cannot occur for
    validated training data, but a NaN must never reach the optimiser)."""
    norms = torch.linalg.vector_norm(tensor, dim=1, keepdim=True)
    return tensor / norms.clamp_min(torch.finfo(tensor.dtype).tiny ** 0.5)


def calibrate_dispersion(dispersion, Z0, generator):
    """Offset and scale of a dispersion loss on the initial batch embedding.

    The scale is the gap between the loss of the initial embedding ``Z0`` and
    its mean over uniform random points of the same size, D(Z0) - E D(U): the
    calibrated term ``(D - D(Z0)) / scale`` is 0 at the start and about -1 once
    the batch is as spread as uniform random points. When the data are
    already about as spread as uniform points that gap vanishes, so it is
    floored by the loss's own sensitivity at the start: the decrease that
    moving every point by ``_FLOOR_ANGLE`` radians along its steepest descent
    direction would give to first order.

    Returns
    -------
    offset, scale, gap, sensitivity : float
        D(Z0), the scale used, D(Z0) - E D(U), and the floor.
    """
    with torch.no_grad():
        reference = torch.stack(
            [
                dispersion(
                    uniform_sphere(
                        Z0.shape[0],
                        Z0.shape[1],
                        generator=generator,
                        device=Z0.device,
                        dtype=Z0.dtype,
                    ),
                    generator=generator,
                )
                for _ in range(_N_REFERENCE_DRAWS)
            ]
        ).mean()
    points = Z0.detach().clone().requires_grad_(True)
    value = dispersion(points, generator=generator)
    (gradient,) = torch.autograd.grad(value, points)
    points = points.detach()
    tangent = gradient - (gradient * points).sum(1, keepdim=True) * points
    sensitivity = torch.linalg.vector_norm(tangent, dim=1).sum() * _FLOOR_ANGLE
    offset = float(value.detach())
    gap = offset - float(reference)
    return offset, max(gap, float(sensitivity)), gap, float(sensitivity)


def train_map(
    X,
    mean,
    module,
    *,
    fidelity,
    fidelity_reference,
    dispersion,
    dispersion_weight,
    learning_rate,
    max_iter,
    batch_size,
    tol,
    n_iter_no_change,
    device,
    rng,
    generator,
    verbose=0,
    name="Disperser",
):
    """Fit ``module`` (centred inputs -> R^m) in place; return the curve.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated training data (never modified; batches are copied out).
    mean : ndarray of shape (n_features,)
    module : torch.nn.Module on ``device``, float32.
    fidelity, fidelity_reference : callables from :mod:`sk_dispersion._fidelity`.
    dispersion : callable ``loss(Z, generator=None)`` or None when the weight is 0.
    rng : numpy RandomState for batch order; generator : torch.Generator on
        ``device`` for the losses' own randomness.
    """
    dtype = torch.float32
    n_samples = X.shape[0]
    batch_size = min(batch_size, n_samples)
    mean_t = torch.as_tensor(mean, dtype=dtype, device=device)
    batches = _batch_indices(n_samples, batch_size, rng)
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate)
    result = TrainingResult()
    use_dispersion = dispersion is not None and dispersion_weight > 0

    progress = None
    if verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=max_iter, desc=name, leave=True)

    pending = []
    best = math.inf
    last_improvement = 0
    n_params = sum(p.numel() for p in module.parameters())
    n_components = module.weight.shape[0]
    flops_per_step = (
        6 * batch_size * (n_params + batch_size * (X.shape[1] + n_components))
    )
    with cpu_threads(device, flops_per_step):
        try:
            for step in range(max_iter):
                index = next(batches)
                batch = torch.from_numpy(np.asarray(X[index], dtype=np.float32))
                centred = batch.to(device, non_blocking=True) - mean_t
                inputs = unit_rows(centred)
                Z = None
                try:
                    Z = unit_rows(module(centred))
                    if result.calibration is None:
                        result.calibration = _calibrate(
                            fidelity_reference,
                            dispersion if use_dispersion else None,
                            inputs,
                            Z,
                            generator,
                            name,
                        )
                    cal = result.calibration
                    loss = fidelity(Z, inputs) / cal.fidelity_scale
                    if use_dispersion:
                        term = (
                            dispersion(Z, generator=generator) - cal.dispersion_offset
                        )
                        loss = loss + dispersion_weight * term / cal.dispersion_scale
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                except (ValueError, RuntimeError) as exc:
                    # A map whose weights overflowed gives non-finite rows, which
                    # the losses refuse (ValueError) and Adam cannot step from
                    # (RuntimeError "overflow"); say so instead of passing on
                    # the low-level message.
                    if not _diverged(module, Z, exc):
                        raise
                    raise _divergence_error(
                        name, step + 1, max_iter, learning_rate
                    ) from exc
                pending.append(loss.detach())

                if (step + 1) % CHECK_EVERY and step + 1 < max_iter:
                    continue
                values = torch.stack(pending).cpu().numpy().astype(float)
                first_step = step + 2 - len(pending)
                pending = []
                bad = np.flatnonzero(~np.isfinite(values))
                if bad.size:
                    raise _divergence_error(
                        name, first_step + bad[0], max_iter, learning_rate
                    )
                result.loss_curve.extend(values.tolist())
                result.n_iter = step + 1
                window = float(values.mean())
                if progress is not None:
                    progress.update(len(values))
                    progress.set_postfix(loss=f"{window:.4g}")
                if tol is None:
                    continue
                if window < best - tol:
                    best = window
                    last_improvement = step + 1
                elif step + 1 - last_improvement >= n_iter_no_change:
                    break
        finally:
            if progress is not None:
                progress.close()
    return result


def _divergence_error(name, iteration, max_iter, learning_rate):
    return ValueError(
        f"{name}: the training loss became non-finite at iteration "
        f"{iteration} of {max_iter}; the optimisation diverged. Try a lower "
        f"learning_rate (currently {learning_rate:g})."
    )


def _diverged(module, Z, exc):
    """Whether an error raised inside a training step comes from the map's
    weights or outputs overflowing (rather than from a bug to re-raise)."""
    with torch.no_grad():
        if not all(bool(torch.isfinite(p).all()) for p in module.parameters()):
            return True
        if Z is not None and not bool(torch.isfinite(Z).all()):
            return True
    return isinstance(exc, RuntimeError) and "overflow" in str(exc)


def _calibrate(fidelity_reference, dispersion, inputs, Z, generator, name):
    fidelity_scale = float(fidelity_reference(inputs, Z.shape[1]))
    offset, scale = 0.0, 1.0
    if dispersion is not None:
        offset, scale, *_ = calibrate_dispersion(dispersion, Z.detach(), generator)
    if not all(math.isfinite(v) for v in (fidelity_scale, offset, scale)):
        raise ValueError(
            f"{name}: the dispersion loss is non-finite at the starting "
            "configuration; check the method's parameters."
        )
    return Calibration(fidelity_scale, offset, max(scale, 1e-12))


@contextmanager
def cpu_threads(device, flops_per_step):
    """Limit torch's intra-op threads on the CPU to what one step can use.

    torch's thread count is process-wide, so it is restored afterwards.
    """
    if torch.device(device).type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    wanted = max(1, min(previous, int(flops_per_step // _FLOPS_PER_THREAD)))
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _batch_indices(n_samples, batch_size, rng):
    """Endless minibatches: a fresh permutation every epoch (full batch if it
    does not split)."""
    if batch_size >= n_samples:
        everything = np.arange(n_samples)
        while True:
            yield everything
    while True:
        order = rng.permutation(n_samples)
        for start in range(0, n_samples - batch_size + 1, batch_size):
            yield np.sort(order[start : start + batch_size])
