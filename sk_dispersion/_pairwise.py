"""Blockwise engines for the pairwise dispersion losses.

Nothing here ever holds an N x N matrix: rows are processed in blocks of
``block_size`` and only the upper-triangle block pairs (I <= J) are visited,
each once, so every unordered pair {i, j} is seen exactly once.

Two engines:

* :func:`pairwise_cosine_mean` -- mean (or log-mean-exp) over pairs i < j of a
  function f(c_ij) of the cosine. Its backward pass is fused into the forward
  sweep: since d f(c_ij) / d z_i = f'(c_ij) z_j, the gradient of row i is the
  f'-weighted sum of the other rows and is accumulated with two matmuls per
  block pair while the block is in cache.
* :func:`nearest_neighbors` / :func:`nearest_rows` -- argmax of the cosine
  per row, without gradient. The losses then evaluate their objective on the
  gathered pairs with autograd (O(N m) memory, exact subgradient).
"""

import math

import torch
from torch.autograd.function import once_differentiable

# Rows per block for block_size="auto". On a CPU a (512, 512) float32 block
# (1 MiB) stays in cache and was fastest (measured 256-4096 at N = 10^4,
# m = 128); a GPU wants fewer, larger launches. The pass holds a few blocks at
# a time (cosines, kernel values, derivatives), so memory is O(N m + block^2).
_AUTO_BLOCK = {"cpu": 512, "cuda": 4096, "mps": 2048}
_MIN_BLOCK = 64
# Entries of one (n_queries, block) slab in the query search for "auto".
_AUTO_SLAB = {"cpu": 2**18, "cuda": 2**24, "mps": 2**22}


def resolve_block_size(block_size, n_rows, device):
    """Rows per block: ``block_size`` if an int, else a per-device default.

    Never more than ``n_rows``.
    """
    if block_size == "auto":
        block = _AUTO_BLOCK.get(torch.device(device).type, 512)
    else:
        block = int(block_size)
    return max(1, min(block, n_rows))


def _row_blocks(n_rows, block):
    return [(start, min(start + block, n_rows)) for start in range(0, n_rows, block)]


def _upper_mask(size, device):
    """True on and below the diagonal: the entries a diagonal block must drop."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril_()


def _pairwise_sweep(Z, pair_fn, block, log_domain, need_grad):
    """One sweep over the block pairs I <= J.

    ``pair_fn(cosines, need_grad)`` returns ``(values, derivatives)`` for a
    block of cosines (it may overwrite its argument). In the linear domain the
    sweep returns ``(sum_{i<j} f(c_ij), G)`` with ``G_i = sum_{j != i} f'(c_ij)
    z_j``; in the log domain ``f`` is a log-weight and it returns ``(log sum
    exp f, G / sum exp f)``, with a running maximum so nothing overflows.
    """
    n_rows = Z.shape[0]
    device, dtype = Z.device, Z.dtype
    grad = torch.zeros_like(Z) if need_grad else None
    total = torch.zeros((), dtype=torch.float64, device=device)
    running_max = torch.tensor(-math.inf, dtype=dtype, device=device)
    blocks = _row_blocks(n_rows, block)
    masks = {}
    for bi, (i0, i1) in enumerate(blocks):
        Zi = Z[i0:i1]
        for j0, j1 in blocks[bi:]:
            Zj = Z[j0:j1]
            diagonal = i0 == j0
            if diagonal and i1 - i0 < 2:
                continue  # a one-row diagonal block holds no pair
            cosines = Zi @ Zj.T
            values, derivs = pair_fn(cosines, need_grad)
            alpha = 1.0
            if need_grad and not isinstance(derivs, torch.Tensor):
                # f' = alpha * f (linear) or (exp f)' = alpha * exp f (log):
                # fold alpha into the matmul instead of a full pass.
                alpha, derivs = float(derivs), None
            if diagonal:
                size = i1 - i0
                if size not in masks:
                    masks[size] = _upper_mask(size, device)
                lower = masks[size]
                values = values.masked_fill_(lower, -math.inf if log_domain else 0.0)
                if derivs is not None:
                    derivs = derivs.masked_fill_(lower, 0.0)
            if log_domain:
                block_max = values.max()
                if block_max > running_max:
                    shrink = torch.exp(running_max - block_max)
                    total = total * shrink.to(torch.float64)
                    if need_grad:
                        grad.mul_(shrink)
                    running_max = block_max
                weights = values.sub_(running_max).exp_()
                total = total + weights.sum().to(torch.float64)
                if need_grad:
                    derivs = weights if derivs is None else derivs.mul_(weights)
            else:
                # float32 block sums (pairwise summation inside torch) are
                # accurate; accumulating the blocks in float64 keeps it so.
                total = total + values.sum().to(torch.float64)
                if need_grad and derivs is None:
                    derivs = values
            if need_grad:
                if diagonal:  # both (i, j) and (j, i) live in this block
                    grad[i0:i1].addmm_(derivs, Zi, alpha=alpha)
                    grad[i0:i1].addmm_(derivs.T, Zi, alpha=alpha)
                else:
                    grad[i0:i1].addmm_(derivs, Zj, alpha=alpha)
                    grad[j0:j1].addmm_(derivs.T, Zi, alpha=alpha)
    if log_domain:
        if need_grad:
            grad.div_(total.to(dtype))
        return running_max.to(torch.float64) + torch.log(total), grad
    return total, grad


class _PairwiseCosineMean(torch.autograd.Function):
    """Autograd wrapper whose backward reuses the gradient built in forward."""

    @staticmethod
    def forward(ctx, Z, pair_fn, block, log_domain):
        need_grad = ctx.needs_input_grad[0]
        total, grad = _pairwise_sweep(Z, pair_fn, block, log_domain, need_grad)
        n_pairs = Z.shape[0] * (Z.shape[0] - 1) / 2
        if log_domain:
            value = total - math.log(n_pairs)
        else:
            value = total / n_pairs
            if need_grad:
                grad.div_(n_pairs)
        ctx.save_for_backward(grad if need_grad else None)
        return value.to(Z.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return grad_output * grad, None, None, None


def pairwise_cosine_mean(Z, pair_fn, *, block_size="auto", log_domain=False):
    """Mean over pairs i < j of ``f(z_i . z_j)``, blockwise with a fused backward.

    Parameters
    ----------
    Z : Tensor of shape (n_points, dim)
    pair_fn : callable
        ``pair_fn(cosines, need_grad) -> (values, derivatives)`` applied to
        (b, b) blocks of cosines; it may overwrite ``cosines``. ``derivatives``
        is None when not ``need_grad``, a tensor of f'(c), or a float alpha
        meaning f' = alpha f (so the engine folds it into the matmul); in the
        log domain alpha means f' = alpha.
    block_size : int or "auto"
    log_domain : bool
        If True return ``log mean_{i<j} exp f(c_ij)`` (computed stably) instead.

    Returns
    -------
    0-d Tensor of Z's dtype, differentiable with respect to Z (first order).
    """
    block = resolve_block_size(block_size, Z.shape[0], Z.device)
    return _PairwiseCosineMean.apply(Z, pair_fn, block, log_domain)


class _ElementwiseCosineFn(torch.autograd.Function):
    """Apply ``pair_fn`` to a vector of cosines with its analytic derivative."""

    @staticmethod
    def forward(ctx, cosines, pair_fn, log_domain):
        need_grad = ctx.needs_input_grad[0]
        values, derivs = pair_fn(cosines.clone(), need_grad)
        if need_grad and not isinstance(derivs, torch.Tensor):
            # a constant alpha means f' = alpha f (linear), f' = alpha (log)
            alpha = float(derivs)
            derivs = torch.full_like(values, alpha) if log_domain else values * alpha
        ctx.save_for_backward(derivs if need_grad else None)
        return values

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (derivs,) = ctx.saved_tensors
        return grad_output * derivs, None, None


def sampled_pairs(n_rows, n_pairs, generator, device):
    """``n_pairs`` uniformly random ordered pairs (i, j) with i != j."""
    first = torch.randint(0, n_rows, (n_pairs,), generator=generator, device=device)
    shift = torch.randint(1, n_rows, (n_pairs,), generator=generator, device=device)
    return first, (first + shift) % n_rows


def sampled_cosine_mean(Z, pair_fn, rows, cols, *, log_domain=False):
    """Mean (or log-mean-exp) of ``f(z_i . z_j)`` over the given pairs, autograd."""
    cosines = (Z[rows] * Z[cols]).sum(dim=1)
    values = _ElementwiseCosineFn.apply(cosines, pair_fn, log_domain)
    if log_domain:
        return torch.logsumexp(values, dim=0) - math.log(values.shape[0])
    return values.mean()


@torch.no_grad()
def nearest_neighbors(Z, *, block_size="auto"):
    """Index of each row's most similar other row (largest cosine), blockwise.

    Visits each block pair once: the block's row maxima update the rows of
    block I and its column maxima update the rows of block J. Only the
    diagonal of the diagonal blocks is excluded.

    Returns
    -------
    LongTensor of shape (n_points,)
    """
    n_rows = Z.shape[0]
    block = resolve_block_size(block_size, n_rows, Z.device)
    best = torch.full((n_rows,), -math.inf, dtype=Z.dtype, device=Z.device)
    best_index = torch.zeros(n_rows, dtype=torch.long, device=Z.device)
    blocks = _row_blocks(n_rows, block)
    for bi, (i0, i1) in enumerate(blocks):
        Zi = Z[i0:i1]
        for j0, j1 in blocks[bi:]:
            cosines = Zi @ Z[j0:j1].T
            if i0 == j0:
                cosines.fill_diagonal_(-math.inf)
            _update_best(best, best_index, i0, i1, *cosines.max(dim=1), j0)
            if i0 != j0:
                _update_best(best, best_index, j0, j1, *cosines.max(dim=0), i0)
    return best_index


def _update_best(best, best_index, start, stop, values, indices, offset):
    better = values > best[start:stop]
    best[start:stop] = torch.where(better, values, best[start:stop])
    best_index[start:stop] = torch.where(
        better, indices + offset, best_index[start:stop]
    )


@torch.no_grad()
def nearest_rows(queries, Z, *, block_size="auto"):
    """For each query row, the index of the row of ``Z`` with the largest cosine.

    Blockwise over the rows of ``Z`` so memory is O(n_queries * block).

    Returns
    -------
    LongTensor of shape (n_queries,)
    """
    n_queries, n_rows = queries.shape[0], Z.shape[0]
    if block_size == "auto":  # an (n_queries, block) slab of about _AUTO_SLAB
        slab = _AUTO_SLAB.get(Z.device.type, 2**18)
        block = max(_MIN_BLOCK, slab // max(n_queries, 1))
    else:
        block = int(block_size)
    best = torch.full((n_queries,), -math.inf, dtype=Z.dtype, device=Z.device)
    best_index = torch.zeros(n_queries, dtype=torch.long, device=Z.device)
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        values, indices = (queries @ Z[start:stop].T).max(dim=1)
        _update_best(best, best_index, 0, n_queries, values, indices, start)
    return best_index
