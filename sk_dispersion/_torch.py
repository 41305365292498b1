"""Torch plumbing shared by the library: device and dtype resolution, seeding,
and conversion between numpy and torch at the API boundary.

Nothing here knows about dispersion; every other module may import it.
"""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

# Per-dtype tolerance used to clamp arguments of arccos/log/pow away from their
# singularities; half precision cannot resolve 1e-6 next to 1.
_EPS = {
    torch.float16: 1e-3,
    torch.bfloat16: 1e-2,
    torch.float32: 1e-6,
    torch.float64: 1e-12,
}

_DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


def eps_for(dtype):
    """Clamp tolerance for ``dtype`` (a torch floating dtype)."""
    return _EPS.get(dtype, 1e-6)


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def resolve_device(device="auto"):
    """Turn a user-facing device specification into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "mps"}, str such as "cuda:1", or torch.device
        ``"auto"`` picks CUDA, then MPS, then the CPU. Asking explicitly for an
        accelerator that is not present raises instead of silently using the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the name is unknown or the requested accelerator is not available.
    """
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise TypeError(
            f"device must be a string or torch.device, got {type(device).__name__}"
        )
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":", 1)[0]
    if kind not in _DEVICE_NAMES:
        raise ValueError(
            f"Unknown device {device!r}; expected one of {_DEVICE_NAMES} "
            "or a torch.device such as 'cuda:0'."
        )
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='auto' to fall back to the CPU."
        )
    if kind == "mps" and not _mps_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available on this "
            "machine; use device='auto' to fall back to the CPU."
        )
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"Invalid device {device!r}: {exc}") from None


def torch_dtype(dtype):
    """Torch dtype matching a numpy floating dtype (float32 or float64)."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return torch.float32
    if dtype == np.float64:
        return torch.float64
    raise TypeError(f"Unsupported dtype {dtype}; expected float32 or float64.")


def make_generator(random_state=None, device="cpu"):
    """A :class:`torch.Generator` on ``device`` seeded from ``random_state``.

    ``random_state`` follows scikit-learn: None (fresh entropy), an int, or a
    :class:`numpy.random.RandomState` from which a seed is drawn. The global
    torch RNG is never touched.
    """
    device = torch.device(device)
    if isinstance(random_state, numbers.Integral):
        seed = int(random_state) % (2**63)
    else:
        seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def to_tensor(X, device="cpu", dtype=None):
    """Copy-free where possible conversion of an array-like to a tensor.

    The caller's array is never modified: tensors that share memory with it
    are only ever read.
    """
    if isinstance(X, torch.Tensor):
        tensor = X
    else:
        tensor = torch.as_tensor(np.asarray(X))
    if dtype is None and not tensor.is_floating_point():
        dtype = torch.get_default_dtype()
    return tensor.to(device=device, dtype=dtype)


def to_numpy(tensor):
    """Detached CPU numpy copy of a tensor (or the array itself if numpy)."""
    if isinstance(tensor, torch.Tensor):
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)
