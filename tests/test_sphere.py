"""Tests of the sphere helpers (sphere.py) and the torch plumbing (_torch.py)."""

import re

import numpy as np
import pytest
import torch

from sk_dispersion import _torch
from sk_dispersion._torch import (
    eps_for,
    make_generator,
    resolve_device,
    to_numpy,
    to_tensor,
    torch_dtype,
)
from sk_dispersion.sphere import (
    angles_deg,
    normalize,
    random_axis_pairs,
    random_planes,
    retract,
    tangent_project,
    uniform_sphere,
)

# ---------------------------------------------------------------- normalize


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_gives_unit_rows_and_keeps_numpy_dtype(dtype):
    X = np.random.default_rng(0).normal(size=(20, 5)).astype(dtype)
    Z = normalize(X)
    assert isinstance(Z, np.ndarray) and Z.dtype == dtype
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        Z * np.linalg.norm(X, axis=1, keepdims=True), X, rtol=1e-5
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_normalize_gives_unit_rows_and_keeps_tensor_dtype(dtype):
    X = torch.randn(20, 5, generator=torch.Generator().manual_seed(0), dtype=dtype)
    Z = normalize(X)
    assert isinstance(Z, torch.Tensor) and Z.dtype == dtype
    torch.testing.assert_close(
        torch.linalg.vector_norm(Z, dim=1), torch.ones(20, dtype=dtype)
    )


def test_normalize_never_modifies_its_input():
    X = np.array([[3.0, 4.0], [0.0, 2.0]])
    before = X.copy()
    normalize(X)
    np.testing.assert_array_equal(X, before)
    T = torch.tensor(before)
    normalize(T)
    torch.testing.assert_close(T, torch.tensor(before))


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_normalize_raises_on_zero_rows_naming_them(kind):
    X = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 2.0], [0.0, 0.0]])
    X = torch.tensor(X) if kind == "torch" else X
    with pytest.raises(ValueError, match=re.escape("2 row(s) have zero norm")) as info:
        normalize(X)
    assert "rows 1, 3" in str(info.value)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_normalize_keeps_zero_rows_when_asked(kind):
    X = np.array([[3.0, 4.0], [0.0, 0.0]])
    X = torch.tensor(X) if kind == "torch" else X
    Z = to_numpy(normalize(X, on_zero="keep"))
    np.testing.assert_allclose(Z, [[0.6, 0.8], [0.0, 0.0]])
    assert np.isfinite(Z).all()


def test_normalize_rejects_an_unknown_zero_policy():
    with pytest.raises(ValueError, match="on_zero must be one of"):
        normalize(np.ones((2, 2)), on_zero="ignore")


@pytest.mark.parametrize(
    "row, dtype",
    [
        ([1e200, 1e200], np.float64),  # the squared norm overflows
        ([1e30, 1e30], np.float32),
        ([300.0, 400.0], np.float16),
        ([1e-170, 1e-170], np.float64),  # the squared norm underflows to 0
        ([1e-30, 1e-30], np.float32),
    ],
)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_normalize_handles_huge_and_tiny_rows(row, dtype, kind):
    # Regression: these rows used to come back as zero rows or raise "zero norm".
    X = np.array([row], dtype=dtype)
    X = torch.from_numpy(X) if kind == "torch" else X
    Z = to_numpy(normalize(X)).astype(np.float64)
    direction = np.array(row) / max(abs(v) for v in row)
    expected = direction / np.linalg.norm(direction)
    np.testing.assert_allclose(Z[0], expected, rtol=1e-3)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_normalize_converts_integer_rows_to_float(kind):
    # Regression: integer norms were truncated, so [1, 1] stayed [1, 1].
    X = np.array([[1, 1], [0, 2]])
    X = torch.from_numpy(X) if kind == "torch" else X
    Z = to_numpy(normalize(X))
    np.testing.assert_allclose(Z, [[2**-0.5, 2**-0.5], [0.0, 1.0]], rtol=1e-6)


def test_normalize_gradient_is_that_of_x_over_its_norm():
    X = torch.randn(
        4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    X = X * torch.tensor([[1e3], [1e-3], [1.0], [7.0]], dtype=torch.float64)
    X.requires_grad_(True)
    assert torch.autograd.gradcheck(normalize, (X,))


# ------------------------------------------------------------ sampling


def test_uniform_sphere_draws_unit_rows_of_the_requested_dtype():
    Z = uniform_sphere(500, 4, generator=make_generator(0), dtype=torch.float64)
    assert Z.shape == (500, 4) and Z.dtype == torch.float64
    torch.testing.assert_close(
        torch.linalg.vector_norm(Z, dim=1), torch.ones(500, dtype=torch.float64)
    )


def test_uniform_sphere_has_mean_near_zero():
    Z = uniform_sphere(20_000, 3, generator=make_generator(3), dtype=torch.float64)
    # Each coordinate has variance 1/3: 5 standard errors is a safe bound.
    assert float(Z.mean(dim=0).abs().max()) < 5 * (1 / 3 / 20_000) ** 0.5


def test_sampling_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    first = uniform_sphere(10, 3, generator=make_generator(42))
    second = uniform_sphere(10, 3, generator=make_generator(42))
    other = uniform_sphere(10, 3, generator=make_generator(43))
    torch.testing.assert_close(first, second)
    assert not torch.equal(first, other)
    planes = random_planes(5, 4, generator=make_generator(7))
    torch.testing.assert_close(planes, random_planes(5, 4, generator=make_generator(7)))
    pairs = random_axis_pairs(5, 4, generator=make_generator(7))
    assert torch.equal(pairs, random_axis_pairs(5, 4, generator=make_generator(7)))
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize("dim", [2, 3, 64])
def test_random_planes_are_orthonormal(dtype, atol, dim):
    planes = random_planes(50, dim, generator=make_generator(0), dtype=dtype)
    assert planes.shape == (50, dim, 2) and planes.dtype == dtype
    gram = planes.transpose(1, 2) @ planes
    eye = torch.eye(2, dtype=dtype).expand(50, 2, 2)
    torch.testing.assert_close(gram, eye, atol=atol, rtol=0)


def test_random_planes_in_half_precision_are_still_orthonormal():
    planes = random_planes(10, 8, generator=make_generator(0), dtype=torch.float16)
    assert planes.dtype == torch.float16
    gram = planes.float().transpose(1, 2) @ planes.float()
    torch.testing.assert_close(gram, torch.eye(2).expand(10, 2, 2), atol=5e-3, rtol=0)


@pytest.mark.parametrize("function", [random_planes, random_axis_pairs])
def test_planes_need_two_dimensions(function):
    with pytest.raises(ValueError, match="dim >= 2, got dim=1"):
        function(3, 1)


@pytest.mark.parametrize("dim", [2, 3, 10])
def test_random_axis_pairs_are_distinct_valid_axes(dim):
    pairs = random_axis_pairs(3000, dim, generator=make_generator(0))
    assert pairs.shape == (3000, 2) and pairs.dtype == torch.long
    assert bool((pairs[:, 0] != pairs[:, 1]).all())
    assert int(pairs.min()) >= 0 and int(pairs.max()) < dim


def test_random_axis_pairs_cover_every_ordered_pair():
    pairs = random_axis_pairs(3000, 3, generator=make_generator(1))
    seen = {tuple(pair) for pair in pairs.tolist()}
    assert seen == {(i, j) for i in range(3) for j in range(3) if i != j}


# ------------------------------------------------------ tangent and retract


def test_tangent_project_removes_the_radial_component():
    generator = make_generator(0)
    Z = uniform_sphere(30, 5, generator=generator, dtype=torch.float64)
    G = torch.randn(30, 5, generator=generator, dtype=torch.float64)
    T = tangent_project(Z, G)
    torch.testing.assert_close((T * Z).sum(dim=1), torch.zeros(30, dtype=torch.float64))
    torch.testing.assert_close(tangent_project(Z, T), T)


def test_retract_returns_unit_rows():
    Y = torch.randn(10, 4, generator=make_generator(0)) * 5
    torch.testing.assert_close(
        torch.linalg.vector_norm(retract(Y), dim=1), torch.ones(10)
    )


def test_angles_deg_clips_rounding_outside_the_unit_interval():
    angles = angles_deg(np.array([1.0 + 1e-7, 0.0, -1.0 - 1e-7, 0.5]))
    np.testing.assert_allclose(angles, [0.0, 90.0, 180.0, 60.0])
    assert np.isfinite(angles).all()


# ------------------------------------------------------------ _torch


def test_resolve_device_auto_falls_back_to_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(_torch, "_mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_resolve_device_auto_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.parametrize("name", ["cuda", "cuda:1", torch.device("cuda", 0)])
def test_resolve_device_refuses_missing_cuda(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device(name)


def test_resolve_device_refuses_missing_mps(monkeypatch):
    monkeypatch.setattr(_torch, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match="MPS is not available"):
        resolve_device("mps")


def test_resolve_device_rejects_unknown_names_and_types():
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(TypeError, match="device must be a string or torch.device"):
        resolve_device(0)


@pytest.mark.parametrize(
    "random_state", [0, np.int64(5), 2**70, np.random.RandomState(3)]
)
def test_make_generator_is_reproducible(random_state):
    def draw(state):
        return torch.rand(4, generator=make_generator(state))

    if isinstance(random_state, np.random.RandomState):
        first = draw(np.random.RandomState(3))
        second = draw(np.random.RandomState(3))
    else:
        first, second = draw(random_state), draw(random_state)
    torch.testing.assert_close(first, second)


def test_make_generator_without_seed_uses_fresh_entropy():
    draws = {
        tuple(torch.rand(3, generator=make_generator(None)).tolist()) for _ in range(3)
    }
    assert len(draws) == 3


def test_torch_dtype_maps_float_types_and_rejects_others():
    assert torch_dtype(np.float32) is torch.float32
    assert torch_dtype("float64") is torch.float64
    with pytest.raises(TypeError, match="Unsupported dtype int64"):
        torch_dtype(np.int64)


def test_to_tensor_and_back_leave_the_input_alone():
    X = np.arange(6).reshape(2, 3)
    T = to_tensor(X)
    assert T.dtype == torch.get_default_dtype()
    np.testing.assert_array_equal(X, np.arange(6).reshape(2, 3))
    Y = np.ones((2, 2), dtype=np.float32)
    assert to_tensor(Y, dtype=torch.float64).dtype == torch.float64
    grad = torch.ones(2, requires_grad=True)
    np.testing.assert_array_equal(to_numpy(grad), [1.0, 1.0])


def test_eps_for_grows_as_precision_drops():
    assert eps_for(torch.float64) < eps_for(torch.float32) < eps_for(torch.float16)
    assert eps_for(torch.float16) < eps_for(torch.bfloat16)
