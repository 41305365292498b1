"""The GloVe and classification benchmarks run on small slices, so they cannot rot.

The full runs take minutes and are not part of the test suite; these run each
script's ``--quick`` protocol (a subset of the GloVe rows) and check what it
writes. The GloVe benchmark needs the demo extra; the tests that need it skip
with the install command when it is missing.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_glove = _load("bench_glove")
bench_classification = _load("bench_classification")


def _needs(*packages):
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        pytest.skip(
            f"benchmark needs {', '.join(missing)} (the demo extra); "
            'install it with pip install -e ".[demo]"'
        )


# ----------------------------------------------------------------------- GloVe


def test_glove_settings_cover_the_issue_rows():
    rows = bench_glove._settings(bench_glove.QUICK, seed=0)
    names = [row[0] for row in rows]
    assert len(names) == len(set(names))
    for name in ("raw", "L2-normalised", "centred + normalised", "PCA whitening"):
        assert name in names
    for d in (1, 2, 3, 5):
        assert f"ABTT D={d}" in names
    for cls in ("Sphere", "Lloyd", "MMD", "MMA", "KoLeo"):
        for map_ in ("linear", "mlp"):
            for weight in bench_glove.WEIGHTS:
                assert f"{cls}Disperser {map_} w={weight:g}" in names
    # Every factory builds an unfitted transformer.
    for _, _, factory, *_ in rows:
        assert hasattr(factory(), "fit")


def test_glove_neighbour_statistics_match_metrics_hubness():
    from sk_dispersion.metrics import hubness, nearest_neighbor_angles

    X = np.random.default_rng(0).normal(size=(600, 8)).astype(np.float32)
    occurrence, nearest = bench_glove.neighbour_statistics(X, 10)
    np.testing.assert_array_equal(occurrence, hubness(X, k=10).k_occurrence)
    angles = np.degrees(np.arccos(np.clip(nearest, -1, 1)))
    np.testing.assert_allclose(angles, nearest_neighbor_angles(X), atol=0.05)


def _result(name, ws, sl, an, skew):
    return {
        "name": name,
        "seed": 0,
        "wordsim353": ws,
        "simlex999": sl,
        "analogy": an,
        "skewness": skew,
    }


def test_glove_goal_summary_names_winners_or_the_shortfall():
    raw = _result("raw", 0.5, 0.26, 0.50, 1.5)
    near = _result("near", 0.64, 0.30, 0.485, 0.9)  # analogy 0.005 short
    assert not all(bench_glove.targets_met(near, raw["analogy"]).values())
    lines = bench_glove.goal_summary([raw, near])
    assert lines[0].startswith("No setting meets all four")
    assert any("near" in line and "analogy -0.0050" in line for line in lines)

    good = _result("good", 0.64, 0.30, 0.495, 0.9)
    lines = bench_glove.goal_summary([raw, near, good])
    assert lines[0].startswith("1 setting(s) meet all four")
    assert any(line.startswith("- good") for line in lines)
    assert not any(line.startswith("- near") for line in lines)


def test_glove_quick_run_writes_table_and_figure(tmp_path, demo_extra):
    _needs("matplotlib")
    only = "raw,ABTT D=3,KoLeoDisperser mlp w=1,ABTT D=3 + MLP uniformity w=1 + hub 0.3"
    out, fig = tmp_path / "glove.md", tmp_path / "glove.png"
    results = bench_glove.main(
        ["--quick", "--only", only, "--out", str(out), "--figure", str(fig)]
    )
    assert [r["name"] for r in results] == only.split(",")
    for result in results:
        assert -1 <= result["wordsim353"] <= 1 and -1 <= result["simlex999"] <= 1
        assert 0 <= result["analogy"] <= 1 and 0 <= result["antihub"] <= 1
    # The hub correction appends extra dimensions and lowers skewness.
    assert results[-1]["dim"] > 50
    assert results[-1]["skewness"] < results[0]["skewness"]
    text = out.read_text()
    assert "Quick smoke run" in text and "--quick" in text
    assert "| ABTT D=3 + MLP uniformity w=1 + hub 0.3 | 0 |" in text
    assert "## Goal" in text
    assert fig.stat().st_size > 0


def test_glove_only_with_unknown_name_is_an_error(tmp_path, demo_extra):
    with pytest.raises(SystemExit):
        bench_glove.main(
            ["--quick", "--only", "no such row", "--out", str(tmp_path / "x.md")]
        )


# -------------------------------------------------------------- classification


def test_recall_at_k_counts_same_class_neighbours():
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    y_train = np.array([0, 0, 1, 1])
    test = np.array([[1.0, 0.05], [0.05, 1.0]])
    assert bench_classification.recall_at_k(
        train, y_train, test, np.array([0, 1]), k=2
    ) == pytest.approx(1.0)
    assert bench_classification.recall_at_k(
        train, y_train, test, np.array([1, 0]), k=2
    ) == pytest.approx(0.0)


def test_classification_quick_run_writes_table_and_figure(tmp_path):
    _needs("matplotlib")
    out, fig = tmp_path / "classification.md", tmp_path / "classification.png"
    results = bench_classification.main(
        ["--quick", "--out", str(out), "--figure", str(fig)]
    )
    n_rows = (
        len(bench_classification.DATASETS)
        * len(bench_classification.CLASSIFIERS)
        * (1 + len(bench_classification.DISPERSERS))
    )
    assert len(results) == n_rows
    for result in results:
        assert 0 <= result["accuracy"] <= 1
        # GridSearchCV chose a weight from the grid in every outer fold.
        if result["disperser"] != "none":
            assert len(result["weights"]) == bench_classification.QUICK.outer_folds
            assert set(result["weights"]) <= set(bench_classification.QUICK.weights)
    # On standardised digits even a quick kNN is far above chance (0.1).
    knn = [
        r
        for r in results
        if r["dataset"] == "digits" and r["classifier"] == "cosine kNN"
    ]
    assert all(r["recall"] is not None and r["recall"] > 0.3 for r in knn)
    text = out.read_text()
    assert "recall@10" in text and "Quick smoke run" in text
    assert text.count("| logistic |") == 1 + len(bench_classification.DISPERSERS)
    assert fig.stat().st_size > 0
