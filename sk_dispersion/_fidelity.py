"""Fidelity terms: how much of the input geometry a learned map keeps.

A fidelity compares the embedded batch ``Z`` (unit rows) with the batch of
centred, unit-normalised inputs ``S`` and returns a scalar tensor that is 0 when
the geometry is kept. Each one also knows its *reference value*: the fidelity
of points drawn uniformly on the sphere, i.e. of a map that forgot the input.
The estimators divide by it so that the fidelity term reads "0 = input geometry
kept, 1 = as lost as random points" whatever the data.
"""

import torch


def cosine_fidelity(Z, S):
    """Mean squared difference of cosine similarities over distinct pairs.

    .. math::

        F(Z, S) = \\frac{1}{n(n-1)} \\sum_{i \\neq j}
                  (z_i \\cdot z_j - s_i \\cdot s_j)^2

    Parameters
    ----------
    Z : Tensor of shape (n, m)
        Unit rows (the embedding of the batch).
    S : Tensor of shape (n, d)
        Unit rows (the centred, normalised inputs of the same batch).

    Returns
    -------
    0-d Tensor
    """
    n = Z.shape[0]
    difference = Z @ Z.T - S @ S.T
    # The diagonal is 1 - 1 = 0 up to rounding; drop it exactly.
    difference = difference - torch.diag_embed(torch.diagonal(difference))
    return (difference * difference).sum() / (n * (n - 1))


def cosine_fidelity_reference(S, n_components):
    """Expected cosine fidelity of uniform random unit vectors in R^m.

    For independent uniform ``u_i, u_j`` on S^{m-1}, E[u_i . u_j] = 0 and
    E[(u_i . u_j)^2] = 1/m, so E[F] = 1/m + mean_{i != j} (s_i . s_j)^2.
    """
    n = S.shape[0]
    gram = S @ S.T
    off_diagonal = (gram * gram).sum() - (torch.diagonal(gram) ** 2).sum()
    return 1.0 / n_components + off_diagonal / (n * (n - 1))


FIDELITIES = {"cosine": (cosine_fidelity, cosine_fidelity_reference)}
