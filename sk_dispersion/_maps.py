"""The maps g: R^d -> R^m learned by the estimators, in torch (for fitting)
and in numpy (for transforming, so a fitted model needs no torch device).

Both maps act on centred inputs ``x - mean`` and are followed by a row
normalisation onto S^{m-1}:

* ``"linear"``: g(x) = W (x - mean).
* ``"mlp"``: g(x) = W (x - mean) + scale V relu(U (x - mean) / scale + b), a
  residual MLP whose extra branch starts at zero (V = 0), so at initialisation
  it equals the linear map. ``scale`` is the RMS coordinate of the centred
  training data, so the hidden layer sees inputs of unit scale, and the branch
  comes out in the units of W (x - mean): multiplying the data by a constant
  multiplies g by it and leaves the embedding, and every gradient, unchanged.
  (Without the output factor, Adam's unit-free steps on V outgrew the linear
  part on data of small scale: on rows of RMS 0.15 the mean nearest-neighbour
  angle fell from 59.8 to 23.1 degrees instead of rising.)
"""

import math

import numpy as np
import torch
from torch import nn

MAPS = ("linear", "mlp")

# Rows per block in the numpy transform: large enough for BLAS efficiency,
# small enough that the block and its output stay in cache for normalisation
# (measured on 100,000 x 300 float32 rows, 2 cores: 1024 rows beat 4096 by
# 1-25% depending on load; see benchmarks/bench_estimators.py).
_TRANSFORM_BLOCK = 1024


def hidden_size_for(n_features, n_components):
    """Width of the MLP's hidden layer: twice the larger of input and output."""
    return 2 * max(n_features, n_components)


class LinearMap(nn.Module):
    """g(x) = W x for centred x; ``components`` (m, d) is the initial W."""

    def __init__(self, components):
        super().__init__()
        self.weight = nn.Parameter(components.clone())

    def forward(self, centred):
        return centred @ self.weight.T

    def export(self):
        return {"components": self.weight.detach().cpu().numpy()}


class ResidualMLPMap(nn.Module):
    """g(x) = W x + scale V relu(U x / scale + b) for centred x, V = 0 at start."""

    def __init__(self, components, input_scale, hidden_size, generator):
        super().__init__()
        n_components, n_features = components.shape
        dtype, device = components.dtype, components.device
        self.weight = nn.Parameter(components.clone())
        # He-uniform initialisation for a ReLU layer fed unit-scale inputs;
        # drawn from the fit's generator on the CPU so every device starts alike.
        bound = math.sqrt(6.0 / n_features)
        hidden = torch.rand(hidden_size, n_features, generator=generator, dtype=dtype)
        self.hidden_weight = nn.Parameter(((2 * hidden - 1) * bound).to(device))
        self.hidden_bias = nn.Parameter(
            torch.zeros(hidden_size, dtype=dtype, device=device)
        )
        self.output_weight = nn.Parameter(
            torch.zeros(n_components, hidden_size, dtype=dtype, device=device)
        )
        self.input_scale = float(input_scale)

    def forward(self, centred):
        hidden = torch.relu(
            (centred / self.input_scale) @ self.hidden_weight.T + self.hidden_bias
        )
        branch = hidden @ self.output_weight.T
        return centred @ self.weight.T + self.input_scale * branch

    def export(self):
        def to_numpy(tensor):
            return tensor.detach().cpu().numpy()

        return {
            "components": to_numpy(self.weight),
            "hidden_weights": to_numpy(self.hidden_weight),
            "hidden_bias": to_numpy(self.hidden_bias),
            # in the units of the linear part, as apply_map uses them
            "output_weights": to_numpy(self.output_weight) * self.input_scale,
        }


def build_map(kind, components, *, input_scale, generator):
    """Torch module for map ``kind`` starting from the linear ``components``."""
    if kind == "linear":
        return LinearMap(components)
    if kind == "mlp":
        n_components, n_features = components.shape
        return ResidualMLPMap(
            components,
            input_scale,
            hidden_size_for(n_features, n_components),
            generator,
        )
    raise ValueError(f"Unknown map {kind!r}; expected one of {MAPS}.")


def initial_components(X_sample, mean, n_components):
    """Starting linear map: the identity, or the top principal directions.

    With ``n_components == n_features`` the map starts at the identity, so the
    initial embedding is exactly the normalised centred input. With fewer
    components it starts at the top right-singular vectors of the centred
    sample (signs fixed so the largest loading of each is positive), completed
    with an orthonormal basis of the rest when the sample has too few rows.
    """
    n_features = X_sample.shape[1]
    if n_components == n_features:
        return np.eye(n_features)
    centred = np.asarray(X_sample, dtype=np.float64) - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:n_components]
    if components.shape[0] < n_components:
        # Complete with the orthogonal complement (deterministic: QR of I).
        basis, _ = np.linalg.qr(np.concatenate([components.T, np.eye(n_features)], 1))
        components = basis[:, :n_components].T
    signs = np.sign(
        components[np.arange(n_components), np.argmax(np.abs(components), 1)]
    )
    signs[signs == 0] = 1
    return components * signs[:, None]


def apply_map(params, mean, X, *, input_scale=None):
    """Numpy transform: rows of X -> unit rows of g(X), in X's float dtype.

    Rows that the map sends to zero carry no direction and are returned as
    zero rows (as :class:`sklearn.preprocessing.Normalizer` does). "Zero" is up
    to the rounding of the folded centring, a few ulps of ||W|| ||mean||, so a
    row equal to the training mean gives a zero row, not a random direction.
    """
    dtype = X.dtype
    components = params["components"].astype(dtype, copy=False)
    # Fold the centring into a bias so X itself is never copied or modified.
    offset = (mean @ params["components"].T).astype(dtype, copy=False)
    mlp = "hidden_weights" in params
    if mlp:
        hidden_weights = (params["hidden_weights"] / input_scale).astype(dtype)
        hidden_offset = (
            params["hidden_bias"] - mean @ params["hidden_weights"].T / input_scale
        ).astype(dtype)
        output_weights = params["output_weights"].astype(dtype, copy=False)
    # In float64: the norm of float32 weights can overflow float32.
    zero_limit = (
        64
        * np.finfo(dtype).eps
        * np.linalg.norm(params["components"].astype(np.float64))
        * np.linalg.norm(mean)
    )
    out = np.empty((X.shape[0], components.shape[0]), dtype=dtype)
    for start in range(0, X.shape[0], _TRANSFORM_BLOCK):
        block = X[start : start + _TRANSFORM_BLOCK]
        target = out[start : start + _TRANSFORM_BLOCK]
        np.matmul(block, components.T, out=target)
        target -= offset
        if mlp:
            hidden = block @ hidden_weights.T
            hidden += hidden_offset
            np.maximum(hidden, 0, out=hidden)
            target += hidden @ output_weights.T
        norms = np.sqrt(np.einsum("ij,ij->i", target, target))
        zero = norms <= zero_limit
        if zero.any():
            target[zero] = 0
            norms[zero] = 1
        target /= norms[:, None]
    return out


# Weights outside [2**-_SCALE_EXPONENT, 2**_SCALE_EXPONENT] are rescaled.
_SCALE_EXPONENT = 16


def normalise_scale(params):
    """Bring the output-side weights to a safe magnitude, exactly.

    The embedding z = g(x) / ||g(x)|| does not change when g is multiplied by
    a positive constant, and g is linear in ``components`` and
    ``output_weights``. A large learning rate can grow them until g(x)
    overflows in float32 (or underflows), so when their largest entry leaves
    [2**-16, 2**16] both are multiplied by the same power of two, which is
    exact in floating point: transforms are unchanged, bit for bit, except
    that they no longer overflow.
    """
    keys = [key for key in ("components", "output_weights") if key in params]
    largest = max(float(np.max(np.abs(params[key]), initial=0.0)) for key in keys)
    if not np.isfinite(largest) or largest == 0.0:
        return params
    exponent = math.frexp(largest)[1]
    if abs(exponent) <= _SCALE_EXPONENT:
        return params
    rescaled = dict(params)
    for key in keys:
        rescaled[key] = np.ldexp(params[key], -exponent).astype(params[key].dtype)
    return rescaled
