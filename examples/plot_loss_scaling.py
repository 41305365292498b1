r"""
Time per step of the dispersion losses
======================================

One forward and backward pass of each regulariser, timed for growing batch sizes *N*
in dimension *m* = 32. The pairwise methods (``mmd``, ``koleo``, ``mma``) cost
:math:`O(N^2 m)` per step; ``sliced`` and ``lloyd`` cost :math:`O(N m)` up to a sort, so
their lines have slope 1 on the log-log plot and those of the pairwise methods slope 2.

This runs small sizes live, so the figure is built in seconds; the
:doc:`../benchmarks` page has the full measurement, up to :math:`N = 10^6`, with the
direct :math:`N \times N` implementation as a baseline.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from sk_dispersion.losses import get_loss

dim = 32
linear = [1000, 4000, 16000, 64000]
quadratic = [500, 1000, 2000, 4000]
sizes = {
    "sliced": linear,
    "sliced_axis": linear,
    "lloyd": linear,
    "mmd": quadratic,
    "koleo": quadratic,
    "mma": quadratic,
}
generator = torch.Generator().manual_seed(0)


def seconds_per_step(loss, Z, repeats=5):
    """Best wall time of one forward + backward pass (the least disturbed run)."""
    loss(Z, generator=generator).backward()  # warm-up: allocations, first-call costs
    times = []
    for _ in range(repeats):
        Z.grad = None
        start = time.perf_counter()
        loss(Z, generator=generator).backward()
        times.append(time.perf_counter() - start)
    return min(times)


timings = {}
for name, ns in sizes.items():
    loss = get_loss(name)
    timings[name] = []
    for n in ns:
        Z = torch.nn.functional.normalize(
            torch.randn(n, dim, generator=generator), dim=1
        )
        Z.requires_grad_(True)
        timings[name].append(seconds_per_step(loss, Z))
    print(
        f"{name:12s}",
        "  ".join(
            f"N={n}: {t * 1e3:7.1f} ms" for n, t in zip(ns, timings[name], strict=True)
        ),
    )

# %%
# On a log-log plot the slope is the exponent of *N* in the cost: the dotted guides have
# slope 1 and 2. At the smallest sizes fixed per-call overheads dominate, so the lines
# are flatter there.

fig, ax = plt.subplots(figsize=(6.5, 4.5))
for name, ns in sizes.items():
    style = "-o" if name in ("sliced", "sliced_axis", "lloyd") else "--s"
    ax.loglog(ns, timings[name], style, label=name)
# Guides through the largest measured size: cost proportional to N and to N^2.
n = np.array(linear, dtype=float)
ax.loglog(n, timings["sliced"][-1] * n / n[-1], ":", color="grey", lw=1)
n = np.array(quadratic, dtype=float)
ax.loglog(n, timings["mmd"][-1] * (n / n[-1]) ** 2, ":", color="grey", lw=1)
ax.text(
    linear[1],
    timings["sliced"][-1] * linear[1] / linear[-1],
    "  ∝ N",
    color="grey",
    va="top",
)
ax.text(
    quadratic[1],
    timings["mmd"][-1] * (quadratic[1] / quadratic[-1]) ** 2,
    "∝ N²  ",
    color="grey",
    ha="right",
)
ax.set_xlabel("batch size N")
ax.set_ylabel("seconds per forward + backward")
ax.set_title(f"Cost of one step, m = {dim}, CPU")
ax.legend(ncol=2, fontsize=9)
fig.tight_layout()
plt.show()
