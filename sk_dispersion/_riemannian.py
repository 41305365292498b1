"""Riemannian Adam for points on the unit sphere (rows of a tensor).

Shared by :func:`sk_dispersion.points.disperse` and the prototype solver.
"""

import torch

from sk_dispersion.sphere import retract, tangent_project


class RiemannianAdam:
    """Adam on a product of unit spheres, one sphere per row of ``Z``.

    Each step projects the gradient onto the tangent space at each row, takes
    an Adam step, retracts by normalising, and projects the moments onto the
    new tangent spaces (a cheap vector transport) so the first moment never
    points off the sphere. ``rows`` restricts a step to a subset of rows (a
    minibatch): only their moments and step counts advance, as in sparse
    Adam, so rows that are seldom sampled get properly bias-corrected steps.

    Parameters
    ----------
    Z : Tensor of shape (..., n_points, dim)
        Only its shape, dtype and device are used.
    betas : tuple of float
        Adam's moment decay rates.
    eps : float
        Added to the root of the second moment.
    """

    def __init__(self, Z, betas=(0.9, 0.999), eps=1e-8):
        self.m = torch.zeros_like(Z)
        self.v = torch.zeros_like(Z)
        self.steps = torch.zeros(Z.shape[:-1] + (1,), dtype=Z.dtype, device=Z.device)
        self.betas = betas
        self.eps = eps

    def step(self, Z, grad, lr, rows=None):
        """Update ``Z`` in place (rows ``rows`` only, if given) and return it."""
        if rows is None:
            Z.copy_(self._update(Z, grad, lr, self.m, self.v, self.steps))
            return Z
        m, v, steps = self.m[rows], self.v[rows], self.steps[rows]
        Z[rows] = self._update(Z[rows], grad, lr, m, v, steps)
        self.m[rows], self.v[rows], self.steps[rows] = m, v, steps
        return Z

    def _update(self, Z, grad, lr, m, v, steps):
        beta1, beta2 = self.betas
        grad = tangent_project(Z, grad)
        steps.add_(1)
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        m_hat = m / (1 - beta1**steps)
        v_hat = v / (1 - beta2**steps)
        Z = retract(Z - lr * m_hat / (v_hat.sqrt() + self.eps))
        m.copy_(tangent_project(Z, m))
        return Z
