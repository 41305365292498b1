"""Reading and writing feature files for the command line.

One format per file extension:

``.npy``
    A 2-D numeric array (loaded without pickle).
``.csv`` / ``.tsv``
    Comma / tab separated numbers, one row per line. The first line is a header
    when its fields (after an optional label column) are not numbers. When the
    first field of the first data row is not a number, the first column holds
    row labels (tokens) and is kept.
``.parquet``
    Numeric columns are the features; at most one string column holds the row
    labels. Needs pandas and pyarrow.
``.txt`` / ``.vec``
    The word2vec / GloVe text format: each line is a token followed by its
    numbers, separated by spaces, with an optional ``"n_rows n_dims"`` header
    line (word2vec). ``.vec`` is written with that header (word2vec and fastText
    convention), ``.txt`` without it (GloVe convention).

Every problem with a file raises :class:`FeatureFileError`, whose message names
the file and says what is wrong (with the line or row where one applies).
Outputs are written to a temporary file in the target directory and moved into
place with :func:`os.replace`, so a reader never sees a half-written file, and
an output path that is one of the inputs is refused.
"""

import csv
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TEXT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "glove", ".vec": "word2vec"}
FORMATS = {".npy": "npy", ".parquet": "parquet", **TEXT_FORMATS}
SUPPORTED_EXTENSIONS = tuple(FORMATS)
_PARQUET_HINT = (
    "reading and writing .parquet needs pandas and pyarrow: pip install pandas pyarrow"
)


class FeatureFileError(ValueError):
    """A feature or model file that cannot be used; the message names the file."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass
class FeatureTable:
    """Rows of a feature file.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_columns)
        The numbers, float32 or float64 (float64 for text formats; ``.npy`` and
        ``.parquet`` keep a float32 dtype).
    tokens : list of str or None
        Row labels (words) when the file has them.
    columns : list of str or None
        Column names when the file has them (csv/tsv header, parquet).
    token_column : str or None
        Name of the label column in a csv/tsv header or parquet file.
    """

    values: np.ndarray
    tokens: list | None = None
    columns: list | None = None
    token_column: str | None = None
    path: str = ""
    extra: dict = field(default_factory=dict)


def format_of(path):
    """Return the format name for ``path``'s extension, or raise FeatureFileError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        shown = suffix or "(none)"
        raise FeatureFileError(
            path,
            f"unknown file extension {shown}; use one of {', '.join(FORMATS)}",
        )
    return FORMATS[suffix]


def read_features(path, *, min_rows=2, min_columns=1):
    """Read a feature file into a :class:`FeatureTable`.

    Parameters
    ----------
    path : str or Path
    min_rows : int, default=2
        Fewer rows than this is an error (one point cannot be dispersed).
    min_columns : int, default=1

    Raises
    ------
    FeatureFileError
        Missing file, unknown extension, empty file, ragged rows, non-numeric
        values, NaN/inf, too few rows or columns.

    Examples
    --------
    >>> import tempfile, os
    >>> from sk_dispersion._io import read_features
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "words.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("cat 0.5 1.0\\ndog 1.5 -2\\n")
    >>> table = read_features(path)
    >>> table.tokens, table.values.tolist()
    (['cat', 'dog'], [[0.5, 1.0], [1.5, -2.0]])
    """
    path = Path(path)
    fmt = format_of(path)
    if not path.exists():
        raise FeatureFileError(path, "no such file")
    if path.is_dir():
        raise FeatureFileError(path, "is a directory, not a file")
    if path.stat().st_size == 0:
        raise FeatureFileError(path, "file is empty")
    reader = {
        "npy": _read_npy,
        "parquet": _read_parquet,
        "csv": _read_delimited,
        "tsv": _read_delimited,
        "glove": _read_word_vectors,
        "word2vec": _read_word_vectors,
    }[fmt]
    table = reader(path, fmt)
    table.path = str(path)
    n_rows, n_columns = table.values.shape
    if n_rows == 0:
        raise FeatureFileError(path, "no data rows")
    if n_rows < min_rows:
        raise FeatureFileError(
            path, f"only {n_rows} row; need at least {min_rows} rows"
        )
    if n_columns < min_columns:
        raise FeatureFileError(
            path, f"only {n_columns} column; need at least {min_columns}"
        )
    return table


def _bad_value_row(values):
    """Index of the first row holding NaN or inf, and what it holds, or None."""
    finite = np.isfinite(values)
    if finite.all():
        return None
    row = int(np.flatnonzero(~finite.all(axis=1))[0])
    what = "NaN" if np.isnan(values[row]).any() else "inf"
    return row, what


def _check_finite_binary(path, values):
    bad = _bad_value_row(values)
    if bad is not None:
        row, what = bad
        raise FeatureFileError(path, f"row {row} (0-based) contains {what}")


def _read_npy(path, fmt):
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise FeatureFileError(path, "not a valid .npy file (no numpy header)")
    try:
        values = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise FeatureFileError(
                path, "holds Python objects, not numbers (refusing to unpickle)"
            ) from None
        raise FeatureFileError(path, f"not a valid .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise FeatureFileError(path, f"not a valid .npy file ({exc})") from None
    if isinstance(values, np.lib.npyio.NpzFile):  # pragma: no cover - .npz renamed
        raise FeatureFileError(path, "is an .npz archive, not a single .npy array")
    if values.dtype.kind not in "biuf":
        raise FeatureFileError(
            path, f"holds {values.dtype} values; expected numbers (int or float)"
        )
    if values.ndim == 1:
        raise FeatureFileError(
            path,
            f"is a 1-D array of {values.shape[0]} numbers; expected a 2-D array "
            "(one row per point); a single point cannot be dispersed",
        )
    if values.ndim != 2:
        raise FeatureFileError(
            path, f"is a {values.ndim}-D array of shape {values.shape}; expected 2-D"
        )
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    elif values.dtype.itemsize < 4:
        values = values.astype(np.float32)
    _check_finite_binary(path, values)
    return FeatureTable(values=values)


def _import_pandas(path):
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
    except ImportError:
        raise FeatureFileError(path, _PARQUET_HINT) from None
    return pd


def _read_parquet(path, fmt):
    pd = _import_pandas(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise FeatureFileError(path, f"not a readable parquet file ({exc})") from None
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in numeric if not pd.api.types.is_bool_dtype(frame[c])]
    other = [c for c in frame.columns if c not in numeric]
    if len(other) > 1:
        raise FeatureFileError(
            path,
            f"has {len(other)} non-numeric columns ({', '.join(map(str, other))}); "
            "expected numbers and at most one label column",
        )
    tokens = token_column = None
    if other:
        token_column = str(other[0])
        tokens = [str(t) for t in frame[other[0]].tolist()]
    if not numeric:
        raise FeatureFileError(path, "has no numeric columns")
    values = frame[numeric].to_numpy()
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    _check_finite_binary(path, values)
    return FeatureTable(
        values=values,
        tokens=tokens,
        columns=[str(c) for c in numeric],
        token_column=token_column,
    )


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_row(path, fields, line_no, first_column, n_expected, expected_line):
    if n_expected is not None and len(fields) != n_expected:
        raise FeatureFileError(
            path,
            f"line {line_no} has {len(fields)} values, expected {n_expected} "
            f"(as on line {expected_line}); rows are ragged",
        )
    try:
        row = [float(v) for v in fields]
    except ValueError:
        for column, text in enumerate(fields, start=first_column):
            if not _is_number(text):
                shown = repr(text) if text.strip() else "an empty value"
                raise FeatureFileError(
                    path,
                    f"line {line_no}, column {column}: {shown} is not a number",
                ) from None
        raise  # pragma: no cover - float() and _is_number disagree
    for column, value in enumerate(row, start=first_column):
        if not math.isfinite(value):
            what = "NaN" if math.isnan(value) else "inf"
            raise FeatureFileError(
                path, f"line {line_no}, column {column}: value is {what}"
            )
    return row


def _read_delimited(path, fmt):
    delimiter = "," if fmt == "csv" else "\t"
    rows, tokens = [], None
    columns = token_column = None
    n_expected = expected_line = None
    has_tokens = None
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for fields in reader:
            line_no = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue  # blank lines carry no row
            if has_tokens is None:
                if columns is None and not any(_is_number(f) for f in fields[1:]):
                    if len(fields) == 1 and _is_number(fields[0]):
                        pass  # a one-column file of numbers has no header
                    else:
                        columns = [f.strip() for f in fields]
                        continue
                has_tokens = not _is_number(fields[0])
                if has_tokens:
                    tokens = []
                    if columns is not None:
                        token_column, columns = columns[0] or "token", columns[1:]
            if has_tokens:
                tokens.append(fields[0])
                fields = fields[1:]
            if n_expected is None:
                if columns is not None and len(fields) != len(columns):
                    raise FeatureFileError(
                        path,
                        f"line {line_no} has {len(fields)} values but the header "
                        f"names {len(columns)} columns",
                    )
                n_expected, expected_line = len(fields), line_no
            first_column = 2 if has_tokens else 1
            rows.append(
                _parse_row(
                    path, fields, line_no, first_column, n_expected, expected_line
                )
            )
    if not rows:
        raise FeatureFileError(path, "no data rows (only a header)")
    values = np.asarray(rows, dtype=np.float64)
    return FeatureTable(
        values=values, tokens=tokens, columns=columns, token_column=token_column
    )


def _read_word_vectors(path, fmt):
    rows, tokens = [], []
    header = None
    n_expected = expected_line = None
    with open(path, encoding="utf-8", errors="strict") as handle:
        try:
            for line_no, line in enumerate(handle, start=1):
                fields = line.split()
                if not fields:
                    continue
                if header is None and not rows and len(fields) == 2:
                    if fields[0].isdigit() and fields[1].isdigit():
                        header = (int(fields[0]), int(fields[1]), line_no)
                        n_expected, expected_line = header[1], line_no
                        continue
                if len(fields) < 2:
                    raise FeatureFileError(
                        path, f"line {line_no} has a token but no numbers"
                    )
                if n_expected is not None and len(fields) > n_expected + 1:
                    # Tokens may contain spaces: the numbers are the last fields.
                    token_fields = fields[: len(fields) - n_expected]
                    if not any(_is_number(f) for f in token_fields[1:]):
                        fields = [" ".join(token_fields), *fields[len(token_fields) :]]
                tokens.append(fields[0])
                values = fields[1:]
                if n_expected is None:
                    n_expected, expected_line = len(values), line_no
                rows.append(
                    _parse_row(path, values, line_no, 2, n_expected, expected_line)
                )
        except UnicodeDecodeError as exc:
            raise FeatureFileError(
                path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    if not rows:
        raise FeatureFileError(path, "no data rows")
    if header is not None and header[0] != len(rows):
        raise FeatureFileError(
            path,
            f"header (line {header[2]}) says {header[0]} rows but the file has "
            f"{len(rows)}",
        )
    return FeatureTable(values=np.asarray(rows, dtype=np.float64), tokens=tokens)


# --------------------------------------------------------------------------- writing


def check_output_path(output, inputs=()):
    """Refuse an output that is one of ``inputs`` or whose directory is missing."""
    output = Path(output)
    format_of(output)
    if output.is_dir():
        raise FeatureFileError(output, "is a directory; give a file name")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise FeatureFileError(output, f"output directory {parent} does not exist")
    for source in inputs:
        if source is None:
            continue
        if os.path.realpath(source) == os.path.realpath(output) or (
            output.exists()
            and Path(source).exists()
            and os.path.samefile(source, output)
        ):
            raise FeatureFileError(
                output, "is also an input file; refusing to overwrite it"
            )


def _new_file_mode():
    """0666 less the process umask (read without a race where Linux allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path, write, *, binary=True):
    """Write ``path`` by calling ``write(handle)`` on a temporary file, then
    :func:`os.replace` it into place; on any error the target is untouched."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=directory
    )
    try:
        # mkstemp makes the file private (0600); give the result the mode a
        # plain open() would (0666 less the umask), or keep the replaced file's.
        if hasattr(os, "fchmod"):
            try:
                mode = path.stat().st_mode & 0o777
            except OSError:
                mode = _new_file_mode()
            os.fchmod(fd, mode)
        mode = "wb" if binary else "w"
        kwargs = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def _number_format(values):
    # Enough digits to read back the same float32/float64.
    return "%.9g" if values.dtype == np.float32 else "%.17g"


def write_features(
    path, values, *, tokens=None, columns=None, token_column=None, inputs=()
):
    """Write rows to ``path`` in the format its extension names, atomically.

    Parameters
    ----------
    path : str or Path
    values : array-like of shape (n_rows, n_columns)
    tokens : list of str, optional
        Row labels, written as the first column (csv/tsv), a string column
        (parquet) or the token of each line (.txt/.vec). ``.npy`` cannot hold
        them; they are then written next to it as ``<name>.tokens.txt``.
    columns : list of str, optional
        Column names for csv/tsv headers and parquet; default ``x0, x1, ...``.
    token_column : str, optional
        Name of the label column; default ``"token"``.
    inputs : sequence of paths
        Files this output must not overwrite.

    Returns
    -------
    list of Path
        The files written.
    """
    path = Path(path)
    check_output_path(path, inputs)
    fmt = format_of(path)
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array to write, got shape {values.shape}")
    n_rows, n_columns = values.shape
    if tokens is not None and len(tokens) != n_rows:
        raise ValueError(f"{len(tokens)} tokens for {n_rows} rows")
    if columns is None or len(columns) != n_columns:
        columns = [f"x{i}" for i in range(n_columns)]
    token_column = token_column or "token"
    written = [path]

    if fmt == "npy":
        atomic_write(path, lambda f: np.save(f, values, allow_pickle=False))
        if tokens is not None:
            token_path = path.with_name(path.stem + ".tokens.txt")
            check_output_path(token_path, inputs)
            atomic_write(
                token_path,
                lambda f: f.write("".join(f"{t}\n" for t in tokens)),
                binary=False,
            )
            written.append(token_path)
    elif fmt == "parquet":
        pd = _import_pandas(path)
        frame = pd.DataFrame(values, columns=columns)
        if tokens is not None:
            frame.insert(0, token_column, list(tokens))
        atomic_write(path, lambda f: frame.to_parquet(f, index=False))
    elif fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        number = _number_format(values)

        def write_delimited(handle):
            writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
            writer.writerow(([token_column] if tokens is not None else []) + columns)
            for i, row in enumerate(values):
                cells = [number % v for v in row]
                writer.writerow(([tokens[i]] if tokens is not None else []) + cells)

        atomic_write(path, write_delimited, binary=False)
    else:
        number = _number_format(values)
        labels = tokens if tokens is not None else [str(i) for i in range(n_rows)]
        bad = [t for t in labels if not t or any(ch.isspace() for ch in t)]
        if bad:
            raise FeatureFileError(
                path,
                f"token {bad[0]!r} is empty or contains whitespace; the "
                f"{path.suffix} format cannot hold it",
            )

        def write_word_vectors(handle):
            if fmt == "word2vec":
                handle.write(f"{n_rows} {n_columns}\n")
            for label, row in zip(labels, values, strict=True):
                handle.write(label + " " + " ".join(number % v for v in row) + "\n")

        atomic_write(path, write_word_vectors, binary=False)
    return written
