r"""
Hubs, and correcting them only
==============================

A *hub* is a point that turns up among the *k* nearest neighbours of many other
points; an *anti-hub* is nobody's neighbour. The *k-occurrence* :math:`N_k(x)` counts
how many points have *x* among their *k* nearest neighbours: it averages *k*, and
hubness shows as a long right tail, measured by the skewness of its distribution
(:func:`~sk_dispersion.metrics.hubness`).

On the digits, under cosine similarity, three ways to shorten that tail:

* centring (``dispersion_weight=0``: the map keeps the centred geometry),
* a learned map with dispersion (:class:`~sk_dispersion.SphereDisperser`), which moves
  every point,
* :class:`~sk_dispersion.postprocessing.HubnessReducer`, which leaves rows that are not
  hubs exactly as they were (among themselves) and only shrinks the similarities of
  hubs to everything, judged against the fitted reference set.

For each, the 10-occurrence histogram of the transformed data and the 5-fold accuracy
of a cosine 10-nearest-neighbour classifier on top, which is what hubs spoil.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sk_dispersion import SphereDisperser
from sk_dispersion.metrics import hubness
from sk_dispersion.postprocessing import HubnessReducer

X, y = load_digits(return_X_y=True)
k = 10
settings = dict(max_iter=100, learning_rate=1e-2, random_state=0)
steps = {
    "raw": [],
    "centred (weight 0)": [SphereDisperser(dispersion_weight=0.0, **settings)],
    "SphereDisperser (weight 1)": [SphereDisperser(dispersion_weight=1.0, **settings)],
    "HubnessReducer (strength 0.3)": [
        HubnessReducer(n_neighbors=k, strength=0.3, random_state=0)
    ],
}

results = {}
for name, pipeline_steps in steps.items():
    Z = make_pipeline(*pipeline_steps).fit_transform(X) if pipeline_steps else X
    knn = make_pipeline(
        *pipeline_steps, KNeighborsClassifier(n_neighbors=k, metric="cosine")
    )
    accuracy = cross_val_score(knn, X, y, cv=5).mean()
    results[name] = (hubness(Z, k=k), accuracy)
    h = results[name][0]
    print(
        f"{name:30s} skewness {h.skewness:5.2f}  anti-hubs "
        f"{100 * h.antihub_fraction:4.1f}%  largest N_k {h.k_occurrence.max():3d}  "
        f"kNN accuracy {accuracy:.3f}"
    )

# %%
# The raw histogram is drawn in grey in every panel. The learned maps shift the whole
# distribution a little; the hub-only correction removes the tail — no image is among
# the 10 nearest neighbours of more than about 25 others — and the neighbour slots the
# hubs give up go to ordinary images, which piles them up just above 10. On the digits
# it does so without costing kNN accuracy, while the learned maps lose about a point.

bins = np.arange(0, max(h.k_occurrence.max() for h, _ in results.values()) + 2) - 0.5
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
raw = results["raw"][0]
for ax, name in zip(axes, list(results)[1:], strict=True):
    h, accuracy = results[name]
    ax.hist(
        raw.k_occurrence,
        bins=bins,
        color="grey",
        alpha=0.5,
        label=f"raw: skew {raw.skewness:.2f}",
    )
    ax.hist(
        h.k_occurrence,
        bins=bins,
        color="C0",
        alpha=0.7,
        label=f"after: skew {h.skewness:.2f}",
    )
    ax.set_title(f"{name}\nkNN accuracy {accuracy:.3f}", fontsize=10)
    ax.set_xlabel(f"{k}-occurrence")
    ax.legend(fontsize=8)
axes[0].set_ylabel("images")
fig.tight_layout()
plt.show()
