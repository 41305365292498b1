r"""
Nearest-neighbour angles and hubness on real data, before and after
===================================================================

scikit-learn's hand-written digits (1,797 images of 8 × 8 pixels) are a crowded
embedding: all pixel intensities are non-negative, so every vector lies in one orthant
and the typical angle between two images is far below 90 degrees. Each estimator learns
a map onto the sphere (here :math:`\mathbb{S}^{15}`, ``n_components=16``) that keeps the
cosine structure of the centred data while spreading it; the histograms show each
image's angle to its nearest other image, before and after, and the legends give the
hubness (skewness of the 10-occurrence distribution; lower is better).

"Before" is the raw data, normalised. "Centred" is what the map does with
``dispersion_weight=0``: it only keeps the geometry of the centred input, so it
separates what centring alone buys from what dispersion adds.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from sk_dispersion import (
    KoLeoDisperser,
    LloydDisperser,
    MMADisperser,
    MMDDisperser,
    SphereDisperser,
)
from sk_dispersion.metrics import hubness, nearest_neighbor_angles

X, y = load_digits(return_X_y=True)

# A larger learning rate than the default, so that 100 steps are enough here.
settings = dict(n_components=16, max_iter=100, learning_rate=1e-2, random_state=0)
embeddings = {
    "raw": X,
    "centred (weight 0)": SphereDisperser(dispersion_weight=0.0, **settings),
    "SphereDisperser": SphereDisperser(**settings),
    "LloydDisperser": LloydDisperser(**settings),
    "MMDDisperser": MMDDisperser(**settings),
    "MMADisperser": MMADisperser(**settings),
    "KoLeoDisperser": KoLeoDisperser(**settings),
}
for name, step in embeddings.items():
    if name != "raw":
        embeddings[name] = step.fit_transform(X)

angles = {name: nearest_neighbor_angles(Z) for name, Z in embeddings.items()}
hubs = {name: hubness(Z, k=10) for name, Z in embeddings.items()}

for name in embeddings:
    print(
        f"{name:20s} nearest-neighbour angle: mean {angles[name].mean():5.1f}°  "
        f"hubness skewness {hubs[name].skewness:5.2f}  "
        f"anti-hubs {100 * hubs[name].antihub_fraction:4.1f}%"
    )

# %%
# Every method moves the whole distribution of nearest-neighbour angles to the right:
# points get more room. The raw histogram is drawn in grey in every panel.

bins = np.linspace(0, max(a.max() for a in angles.values()), 40)
fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharex=True, sharey=True)
for ax, name in zip(axes.ravel(), list(embeddings)[1:], strict=True):
    ax.hist(
        angles["raw"],
        bins=bins,
        color="grey",
        alpha=0.5,
        label=f"raw (skew {hubs['raw'].skewness:.2f})",
    )
    ax.hist(
        angles[name],
        bins=bins,
        color="C0",
        alpha=0.7,
        label=f"after (skew {hubs[name].skewness:.2f})",
    )
    ax.set_title(name, fontsize=10)
    ax.legend(fontsize=8)
for ax in axes[-1]:
    ax.set_xlabel("angle to nearest neighbour (degrees)")
for ax in axes[:, 0]:
    ax.set_ylabel("images")
fig.tight_layout()
plt.show()
