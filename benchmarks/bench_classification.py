"""Does a disperser help a classifier? 5-fold accuracy on small scikit-learn sets.

Protocol (issue 6): scikit-learn's digits (1,797 x 64), wine (178 x 13) and
breast_cancer (569 x 30). Two pipelines, each without and with every disperser
(SphereDisperser, LloydDisperser, MMDDisperser, MMADisperser, KoLeoDisperser)
between the scaler and the classifier:

* ``StandardScaler -> [disperser] -> LogisticRegression``;
* ``StandardScaler -> [disperser] -> KNeighborsClassifier(5, metric="cosine")``.

Accuracy is the mean over 5 stratified outer folds; inside each training fold
``GridSearchCV`` (3 stratified folds) picks the dispersion weight from
``--weights``, so the score never sees the test fold (nested cross-validation).
On digits the table also gives recall@10: for each test image, the fraction of
its 10 cosine-nearest training images (in the representation of the fitted kNN
pipeline) that have its class.

Dispersers are trained with ``max_iter=--max-iter`` steps (default 100, below
the estimators' default of 300, to keep the whole run to a few minutes on two
cores; early stopping usually ends them sooner anyway).

Usage::

    python benchmarks/bench_classification.py            # full table (minutes)
    python benchmarks/bench_classification.py --quick    # smoke run, seconds

Writes a markdown table (``--out``, with the command and the date) and a
figure (``--figure``) next to it.
"""

import argparse
import datetime
import os
import shlex
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

DATASETS = ("digits", "wine", "breast_cancer")
DISPERSERS = (
    "SphereDisperser",
    "LloydDisperser",
    "MMDDisperser",
    "MMADisperser",
    "KoLeoDisperser",
)
CLASSIFIERS = ("logistic", "cosine kNN")
RECALL_K = 10


@dataclass
class Protocol:
    outer_folds: int = 5
    inner_folds: int = 3
    weights: tuple = (0.1, 1.0, 10.0)
    max_iter: int = 100
    max_rows: int | None = None  # None: every row of each data set


QUICK = Protocol(
    outer_folds=2, inner_folds=2, weights=(0.1, 10.0), max_iter=5, max_rows=150
)


def load(name, max_rows=None, seed=0):
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
    }[name]
    X, y = loader(return_X_y=True)
    if max_rows is not None and len(X) > max_rows:
        keep = np.random.default_rng(seed).choice(len(X), max_rows, replace=False)
        X, y = X[np.sort(keep)], y[np.sort(keep)]
    return X.astype(np.float64), y


def make_model(classifier, disperser, protocol, seed):
    """Unfitted model: a Pipeline, wrapped in GridSearchCV over the weight
    when it holds a disperser."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    import sk_dispersion

    final = (
        LogisticRegression(max_iter=2000)
        if classifier == "logistic"
        else KNeighborsClassifier(n_neighbors=5, metric="cosine")
    )
    steps = [("scale", StandardScaler())]
    if disperser is not None:
        cls = getattr(sk_dispersion, disperser)
        steps.append(
            (
                "disperse",
                cls(max_iter=protocol.max_iter, random_state=seed, device="cpu"),
            )
        )
    steps.append(("classify", final))
    pipeline = Pipeline(steps)
    if disperser is None:
        return pipeline
    return GridSearchCV(
        pipeline,
        {"disperse__dispersion_weight": list(protocol.weights)},
        cv=StratifiedKFold(protocol.inner_folds, shuffle=True, random_state=seed),
        n_jobs=1,
    )


def recall_at_k(train, y_train, test, y_test, k=RECALL_K):
    """Mean fraction of each test row's k cosine-nearest training rows that
    share its class."""
    a = test / np.linalg.norm(test, axis=1, keepdims=True)
    b = train / np.linalg.norm(train, axis=1, keepdims=True)
    k = min(k, len(train))
    nearest = np.argpartition(-(a @ b.T), k - 1, axis=1)[:, :k]
    return float(np.mean(y_train[nearest] == y_test[:, None]))


def _representation(model):
    """The fitted pipeline's steps before the classifier."""
    pipeline = getattr(model, "best_estimator_", model)
    return pipeline[:-1]


def run(protocol, seed=0, datasets=DATASETS, log=print):
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    results = []
    for dataset in datasets:
        X, y = load(dataset, protocol.max_rows, seed)
        outer = StratifiedKFold(protocol.outer_folds, shuffle=True, random_state=seed)
        for classifier in CLASSIFIERS:
            for disperser in (None, *DISPERSERS):
                template = make_model(classifier, disperser, protocol, seed)
                scores, weights, recalls = [], [], []
                start = time.perf_counter()
                for train, test in outer.split(X, y):
                    model = clone(template).fit(X[train], y[train])
                    scores.append(model.score(X[test], y[test]))
                    if hasattr(model, "best_params_"):
                        weights.append(
                            model.best_params_["disperse__dispersion_weight"]
                        )
                    if dataset == "digits" and classifier == "cosine kNN":
                        rep = _representation(model)
                        recalls.append(
                            recall_at_k(
                                rep.transform(X[train]),
                                y[train],
                                rep.transform(X[test]),
                                y[test],
                            )
                        )
                seconds = time.perf_counter() - start
                result = {
                    "dataset": dataset,
                    "classifier": classifier,
                    "disperser": disperser or "none",
                    "accuracy": float(np.mean(scores)),
                    "accuracy_std": float(np.std(scores)),
                    "weights": weights,
                    "recall": float(np.mean(recalls)) if recalls else None,
                    "seconds": seconds,
                }
                results.append(result)
                log(
                    f"{dataset:14s} {classifier:11s} {result['disperser']:16s} "
                    f"acc {result['accuracy']:.4f} +- {result['accuracy_std']:.4f}  "
                    f"weights {weights}  {seconds:.1f}s"
                    + (f"  recall@10 {result['recall']:.4f}" if recalls else "")
                )
    return results


def _weights_text(weights):
    if not weights:
        return "-"
    values, counts = np.unique(weights, return_counts=True)
    return ", ".join(f"{v:g}×{c}" for v, c in zip(values, counts, strict=True))


def markdown(results, command, protocol, quick):
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    lines = [
        "# Classification with and without a disperser",
        "",
        f"Made by `{command}` on {today} ({os.cpu_count()} CPUs, 1-minute load "
        f"average {load:.1f} when it finished)."
        + (
            " **Quick smoke run on small slices: not the real protocol.**"
            if quick
            else ""
        ),
        "",
        f"Mean accuracy (± std) over {protocol.outer_folds} stratified outer folds. "
        "Pipelines: `StandardScaler -> [disperser] -> LogisticRegression"
        "(max_iter=2000)` and `StandardScaler -> [disperser] -> "
        "KNeighborsClassifier(5, metric='cosine')`. With a disperser, GridSearchCV "
        f"({protocol.inner_folds} inner folds) picks `dispersion_weight` from "
        f"{list(protocol.weights)} inside each training fold; the weights column "
        "counts the choices over the outer folds (digits / wine / breast cancer). "
        f"Dispersers run at most `max_iter={protocol.max_iter}` steps (estimator "
        "default 300; lowered to keep the run to minutes), everything else at "
        "its default. Seconds: the whole nested CV of the row on all data sets.",
        "",
        "| classifier | disperser | "
        + " | ".join(datasets)
        + " | weights chosen | seconds |",
        "|---|---|" + "---|" * len(datasets) + "---|---|",
    ]
    keys = list(dict.fromkeys((r["classifier"], r["disperser"]) for r in results))
    by_key = {(r["dataset"], r["classifier"], r["disperser"]): r for r in results}
    for classifier, disperser in keys:
        rows = [by_key[(d, classifier, disperser)] for d in datasets]
        base = [by_key[(d, classifier, "none")]["accuracy"] for d in datasets]
        cells = []
        for row, reference in zip(rows, base, strict=True):
            text = f"{row['accuracy']:.3f} ± {row['accuracy_std']:.3f}"
            if disperser != "none" and row["accuracy"] > reference:
                text = f"**{text}**"
            cells.append(text)
        weights = " / ".join(_weights_text(r["weights"]) for r in rows)
        seconds = sum(r["seconds"] for r in rows)
        lines.append(
            f"| {classifier} | {disperser} | "
            + " | ".join(cells)
            + f" | {weights} | {seconds:.1f} |"
        )
    lines += [
        "",
        "**Bold**: higher mean accuracy than the same classifier without a "
        "disperser (differences smaller than the std are not significant).",
    ]
    recall_rows = [r for r in results if r["recall"] is not None]
    if recall_rows:
        lines += [
            "",
            f"## Digits: recall@{RECALL_K} of same-class neighbours",
            "",
            f"For each test image, the fraction of its {RECALL_K} cosine-nearest "
            "training images that show the same digit, in the representation "
            "of the fitted kNN pipeline (scaler, then the disperser at the weight "
            "the inner search chose), averaged over the outer folds.",
            "",
            f"| disperser | recall@{RECALL_K} |",
            "|---|---|",
        ]
        lines += [f"| {r['disperser']} | {r['recall']:.4f} |" for r in recall_rows]
    lines.append("")
    return "\n".join(lines)


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    dispersers = list(dict.fromkeys(r["disperser"] for r in results))
    fig, axes = plt.subplots(1, len(CLASSIFIERS), figsize=(12, 4.5), sharey=True)
    width = 0.8 / len(dispersers)
    for ax, classifier in zip(axes, CLASSIFIERS, strict=True):
        for j, disperser in enumerate(dispersers):
            rows = {
                r["dataset"]: r
                for r in results
                if r["classifier"] == classifier and r["disperser"] == disperser
            }
            x = np.arange(len(datasets)) + (j - (len(dispersers) - 1) / 2) * width
            ax.bar(
                x,
                [rows[d]["accuracy"] for d in datasets],
                width,
                yerr=[rows[d]["accuracy_std"] for d in datasets],
                label=disperser,
                capsize=2,
            )
        ax.set_xticks(np.arange(len(datasets)), datasets)
        ax.set_title(classifier)
        low = min(r["accuracy"] - r["accuracy_std"] for r in results)
        ax.set_ylim(max(0.0, low - 0.02), 1.0)
    axes[0].set_ylabel("nested-CV accuracy")
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Accuracy without ('none') and with each disperser")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small slices, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-iter", type=int, help="disperser steps (default 100)")
    parser.add_argument(
        "--datasets", nargs="+", choices=DATASETS, default=list(DATASETS)
    )
    parser.add_argument("--out", default="docs/benchmarks/classification.md")
    parser.add_argument("--figure", default="docs/benchmarks/classification.png")
    args = parser.parse_args(argv)

    protocol = QUICK if args.quick else Protocol()
    if args.max_iter is not None:
        protocol.max_iter = args.max_iter
    command = "python " + " ".join(
        shlex.quote(a)
        for a in ["benchmarks/bench_classification.py", *(argv or sys.argv[1:])]
    )
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # Few disperser steps on tiny folds: convergence warnings are expected.
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        results = run(protocol, args.seed, args.datasets)
    text = markdown(results, command, protocol, args.quick)
    for path in (args.out, args.figure):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.write(
            f"\n![Classification benchmark]({os.path.basename(args.figure)})\n"
        )
    figure(results, args.figure)
    print(f"wrote {args.out} and {args.figure}")
    return results


if __name__ == "__main__":
    main()
