"""Intrinsic evaluation of word embeddings: word similarity and analogies.

These are the standard intrinsic benchmarks for word vectors, used by the demo
and ``benchmarks/bench_glove.py`` to check that dispersing an embedding keeps
what the vectors are good for. Both functions take the embedding as an array
plus its vocabulary, so they work for raw vectors and for the output of any
transformer alike. Dispersion metrics (hubness, nearest-neighbour angles, ...)
live in :mod:`sk_dispersion.metrics`.

Words are matched case-insensitively: the vocabulary and the test words are
lower-cased, and when two vocabulary entries lower-case to the same string the
first (most frequent, for a frequency-ordered vocabulary) wins.
"""

import numbers

import numpy as np
from scipy.stats import spearmanr

__all__ = ["analogy_accuracy", "word_similarity"]


def _check_embedding(vectors, words):
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ValueError(
            f"vectors must be a 2-D array (n_words, n_features), got shape "
            f"{vectors.shape}."
        )
    if vectors.dtype.kind not in "fiu":
        raise TypeError(f"vectors must be numeric, got dtype {vectors.dtype}.")
    if len(words) != len(vectors):
        raise ValueError(
            f"words has {len(words)} entries but vectors has {len(vectors)} rows."
        )
    if vectors.dtype.kind != "f":
        vectors = vectors.astype(np.float64)
    return vectors


def _vocabulary(words, limit=None):
    index = {}
    for i, word in enumerate(words[:limit] if limit is not None else words):
        index.setdefault(str(word).lower(), i)
    return index


def _unit_rows(rows):
    """Unit-norm copies of ``rows``; all-zero rows stay zero (cosine 0 to all)."""
    if not np.isfinite(rows).all():
        raise ValueError("vectors contain NaN or infinity in the evaluated rows.")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1).astype(rows.dtype, copy=False)


def word_similarity(vectors, words, pairs):
    """Spearman correlation between cosine similarity and human similarity scores.

    Parameters
    ----------
    vectors : array-like of shape (n_words, n_features)
        The embedding; row ``i`` is the vector of ``words[i]``.
    words : sequence of str
        The vocabulary, matched case-insensitively.
    pairs : iterable of (str, str, float)
        ``(word1, word2, human_score)``, e.g. from
        :func:`sk_dispersion.datasets.load_word_similarity`.

    Returns
    -------
    spearman : float
        Spearman rank correlation over the covered pairs (NaN if fewer than two
        pairs are covered).
    coverage : float
        Fraction of ``pairs`` whose two words are both in ``words``. Pairs with
        an out-of-vocabulary word are left out, not scored as zero, so compare
        embeddings only at equal coverage.

    Examples
    --------
    >>> import numpy as np
    >>> vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> pairs = [("Cat", "dog", 9.0), ("cat", "car", 1.0), ("dog", "car", 2.0),
    ...          ("cat", "unicorn", 5.0)]
    >>> word_similarity(vectors, ["cat", "dog", "car"], pairs)
    (1.0, 0.75)
    """
    vectors = _check_embedding(vectors, words)
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs is empty.")
    index = _vocabulary(words)
    first, second, human = [], [], []
    for word1, word2, score in pairs:
        i, j = index.get(word1.lower()), index.get(word2.lower())
        if i is not None and j is not None:
            first.append(i)
            second.append(j)
            human.append(float(score))
    coverage = len(human) / len(pairs)
    if len(human) < 2:
        return float("nan"), coverage
    cosines = np.sum(_unit_rows(vectors[first]) * _unit_rows(vectors[second]), axis=1)
    return float(spearmanr(cosines, human).statistic), coverage


def analogy_accuracy(vectors, words, questions, restrict_vocab=30_000, block_size=1024):
    """Accuracy of 3CosAdd on analogy questions "a is to b as c is to d".

    Each question is answered by the vocabulary word ``w``, other than ``a``,
    ``b`` and ``c``, that maximises ``cos(w, b* - a* + c*)`` where ``x*`` is the
    unit vector of ``x`` (Mikolov et al. 2013; the protocol of gensim's
    ``evaluate_word_analogies``). The search runs over the ``restrict_vocab``
    first words of ``words`` (the most frequent ones for a frequency-ordered
    vocabulary), in blocks of questions, so memory is
    O(block_size * restrict_vocab).

    Parameters
    ----------
    vectors : array-like of shape (n_words, n_features)
        The embedding; row ``i`` is the vector of ``words[i]``.
    words : sequence of str
        The vocabulary, matched case-insensitively.
    questions : iterable of (str, str, str, str)
        ``(a, b, c, d)`` tuples, e.g. from
        :func:`sk_dispersion.datasets.load_analogies`.
    restrict_vocab : int or None, default=30000
        Size of the candidate vocabulary. A question counts as covered only if
        its four words are all among these candidates. ``None`` uses all words.
    block_size : int, default=1024
        Questions scored per matrix product.

    Returns
    -------
    accuracy : float
        Fraction of covered questions answered with ``d`` (NaN if none is
        covered).
    coverage : float
        Fraction of ``questions`` that are covered.

    Examples
    --------
    >>> import numpy as np
    >>> words = ["man", "woman", "king", "queen", "apple"]
    >>> vectors = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0],
    ...                     [1.0, 1.0, 1.0], [-1.0, 0.2, 0.1]])
    >>> analogy_accuracy(vectors, words, [("man", "woman", "king", "queen"),
    ...                                   ("man", "king", "woman", "queen"),
    ...                                   ("man", "woman", "king", "prince")])
    (1.0, 0.6666666666666666)
    """
    vectors = _check_embedding(vectors, words)
    if restrict_vocab is not None:
        if isinstance(restrict_vocab, bool) or not isinstance(
            restrict_vocab, numbers.Integral
        ):
            raise TypeError(
                f"restrict_vocab must be an int or None, got "
                f"{type(restrict_vocab).__name__}."
            )
        if restrict_vocab < 1:
            raise ValueError(f"restrict_vocab must be >= 1, got {restrict_vocab}.")
    if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral):
        raise TypeError(f"block_size must be an int, got {type(block_size).__name__}.")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}.")
    questions = list(questions)
    if not questions:
        raise ValueError("questions is empty.")

    index = _vocabulary(words, restrict_vocab)
    covered = []
    for question in questions:
        if len(question) != 4:
            raise ValueError(f"Each question needs 4 words, got {question!r}.")
        ids = [index.get(str(word).lower()) for word in question]
        if None not in ids:
            covered.append(ids)
    coverage = len(covered) / len(questions)
    if not covered:
        return float("nan"), coverage

    n_candidates = len(words) if restrict_vocab is None else restrict_vocab
    candidates = _unit_rows(vectors[:n_candidates])
    ids = np.asarray(covered, dtype=np.intp)
    n_correct = 0
    for start in range(0, len(ids), block_size):
        block = ids[start : start + block_size]
        a, b, c = (candidates[block[:, k]] for k in range(3))
        targets = _unit_rows(b - a + c)
        scores = targets @ candidates.T
        rows = np.arange(len(block))[:, None]
        scores[rows, block[:, :3]] = -np.inf
        n_correct += int(np.sum(np.argmax(scores, axis=1) == block[:, 3]))
    return n_correct / len(covered), coverage
