r"""
Maximally separated points: ``make_prototypes`` against the best-known packings
===============================================================================

The Tammes problem asks for *n* points on the sphere :math:`\mathbb{S}^{d-1}` whose
smallest pairwise angle is as large as possible. It is what class prototypes
(hyperspherical prototype networks) and codebooks want, and it is hard: the objective
is a minimum over pairs, not smooth, with many local optima.

Here :func:`~sk_dispersion.make_prototypes` runs on a few rows of the table of
best-known packings (Sloane's tables for :math:`\mathbb{R}^3`; the regular simplex and
the cross-polytope, which are optimal, in :math:`\mathbb{R}^4` and :math:`\mathbb{R}^8`)
with a one-second budget each, next to plain Riemannian Adam on the MMA regulariser
through :func:`~sk_dispersion.disperse` — the gradient-descent approach most papers
use. The :doc:`../benchmarks` page has every row of the table with default budgets.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from sk_dispersion import disperse, make_prototypes
from sk_dispersion.metrics import min_angle

# (dim, n, best-known minimum angle in degrees)
best_known = [
    (3, 5, 90.0000000),
    (3, 7, 77.8695421),
    (3, 9, 70.5287794),
    (3, 13, 57.1367031),
    (3, 17, 51.0903285),
    (3, 24, 43.6907671),
    (4, 5, 104.4775122),  # regular simplex, arccos(-1/4)
    (8, 16, 90.0000000),  # cross-polytope
]

rows = []
for dim, n, best in best_known:
    start = time.perf_counter()
    prototypes = make_prototypes(n, dim, random_state=0, time_budget=1.0)
    seconds = time.perf_counter() - start
    rng = np.random.default_rng(0)
    baseline = disperse(
        rng.normal(size=(n, dim)),
        method="mma",
        n_iter=500,
        learning_rate=0.01,
        random_state=0,
    )
    rows.append((dim, n, best, min_angle(prototypes), min_angle(baseline), seconds))

print(" dim    n   best-known   make_prototypes      %   MMA + Adam      %   seconds")
for dim, n, best, ours, mma, seconds in rows:
    print(
        f"{dim:4d} {n:4d} {best:11.4f}° {ours:15.4f}° {100 * ours / best:6.2f}"
        f" {mma:11.4f}° {100 * mma / best:6.2f} {seconds:8.2f}"
    )

# %%
# As a fraction of the best-known angle (100% is as good as anyone has found):

labels = [f"{n} in R{dim}" for dim, n, *_ in rows]
ours = np.array([100 * r[3] / r[2] for r in rows])
mma = np.array([100 * r[4] / r[2] for r in rows])
x = np.arange(len(rows))
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.bar(x - 0.2, ours, width=0.4, label="make_prototypes (1 s budget)")
ax.bar(x + 0.2, mma, width=0.4, label="disperse(method='mma'), 500 Adam steps")
ax.axhline(100, color="black", lw=0.8)
ax.set_xticks(x, labels, rotation=30)
ax.set_ylim(min(90, mma.min() - 1), 101)
ax.set_ylabel("% of best-known minimum angle")
ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
fig.tight_layout()
plt.show()
