"""Feature-file formats and atomic writes (sk_dispersion._io)."""

import os

import numpy as np
import pytest

from sk_dispersion._io import (
    FeatureFileError,
    atomic_write,
    read_features,
    write_features,
)

pd = pytest.importorskip("pandas")


@pytest.fixture
def values():
    return np.random.default_rng(0).normal(size=(5, 3))


@pytest.mark.parametrize("ext", [".npy", ".csv", ".tsv", ".parquet", ".txt", ".vec"])
def test_round_trip_is_exact_in_every_format(tmp_path, values, ext):
    pytest.importorskip("pyarrow")
    path = tmp_path / f"data{ext}"
    write_features(path, values)
    table = read_features(path)
    np.testing.assert_array_equal(table.values, values)


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".parquet", ".txt", ".vec"])
def test_tokens_survive_a_round_trip(tmp_path, values, ext):
    pytest.importorskip("pyarrow")
    tokens = ["the", "cat", "1984", "naïve", "x,y" if ext != ".tsv" else "x;y"]
    if ext in (".txt", ".vec"):
        tokens[-1] = "x_y"
    path = tmp_path / f"words{ext}"
    write_features(path, values.astype(np.float32), tokens=tokens)
    table = read_features(path)
    assert table.tokens == tokens
    np.testing.assert_array_equal(
        table.values.astype(np.float32), values.astype(np.float32)
    )


def test_npy_tokens_go_to_a_side_file(tmp_path, values):
    written = write_features(tmp_path / "out.npy", values, tokens=list("abcde"))
    assert [p.name for p in written] == ["out.npy", "out.tokens.txt"]
    assert (tmp_path / "out.tokens.txt").read_text().split() == list("abcde")


def test_float32_npy_keeps_its_dtype(tmp_path, values):
    np.save(tmp_path / "a.npy", values.astype(np.float32))
    assert read_features(tmp_path / "a.npy").values.dtype == np.float32


def test_integer_npy_becomes_float(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6).reshape(3, 2))
    table = read_features(tmp_path / "a.npy")
    assert table.values.dtype == np.float64


def test_csv_header_and_label_column_are_detected(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("word,f1,f2\ncat,1,2\ndog,3,4.5\n")
    table = read_features(path)
    assert table.tokens == ["cat", "dog"]
    assert table.columns == ["f1", "f2"]
    assert table.token_column == "word"
    assert table.values.tolist() == [[1, 2], [3, 4.5]]


def test_csv_without_header_or_labels(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("1,2\n\n3,4\n")
    table = read_features(path)
    assert table.tokens is None and table.columns is None
    assert table.values.tolist() == [[1, 2], [3, 4]]


def test_numeric_looking_tokens_stay_tokens_after_the_first_row(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("cat,1,2\n1984,3,4\n")
    assert read_features(path).tokens == ["cat", "1984"]


def test_word2vec_header_is_read_and_checked(tmp_path):
    path = tmp_path / "a.vec"
    path.write_text("2 3\ncat 1 2 3\ndog 4 5 6\n")
    table = read_features(path)
    assert table.tokens == ["cat", "dog"]
    path.write_text("3 3\ncat 1 2 3\ndog 4 5 6\n")
    with pytest.raises(
        FeatureFileError, match="header .* says 3 rows but the file has 2"
    ):
        read_features(path)


def test_glove_text_token_with_spaces_when_header_gives_the_dimension(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("2 2\nnew york 1 2\nparis 3 4\n")
    assert read_features(path).tokens == ["new york", "paris"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "a.csv",
            "1,2\n3\n",
            "line 2 has 1 values, expected 2 (as on line 1); rows are ragged",
        ),
        ("a.csv", "1,2\n3,x\n", "line 2, column 2: 'x' is not a number"),
        ("a.csv", "1,2\n3,\n", "line 2, column 2: an empty value is not a number"),
        ("a.csv", "a,b\n1,2\n3,nan\n", "line 3, column 2: value is NaN"),
        ("a.tsv", "1\t2\n3\tinf\n", "line 2, column 2: value is inf"),
        ("a.txt", "cat 1 2\ndog 1 two\n", "line 2, column 3: 'two' is not a number"),
        ("a.txt", "cat 1 2\ndog 1\n", "line 2 has 1 values, expected 2"),
        ("a.txt", "cat 1 2\ndog\n", "line 2 has a token but no numbers"),
        ("a.csv", "a,b\n", "no data rows"),
        ("a.csv", "\n\n", "no data rows"),
        ("a.csv", "", "file is empty"),
        ("a.csv", "1,2\n", "only 1 row; need at least 2 rows"),
        ("a.csv", "x,y,z\n1,2\n3,4\n", "line 2 has 2 values but the header names 3"),
    ],
)
def test_bad_text_files_name_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(FeatureFileError) as info:
        read_features(path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))


def test_nan_in_npy_names_the_row(tmp_path, values):
    values[3, 1] = np.nan
    np.save(tmp_path / "a.npy", values)
    with pytest.raises(FeatureFileError, match=r"row 3 \(0-based\) contains NaN"):
        read_features(tmp_path / "a.npy")


def test_inf_in_parquet_names_the_row(tmp_path, values):
    pytest.importorskip("pyarrow")
    values[2, 0] = -np.inf
    pd.DataFrame(values, columns=list("abc")).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(FeatureFileError, match=r"row 2 \(0-based\) contains inf"):
        read_features(tmp_path / "a.parquet")


def test_parquet_with_two_string_columns_is_refused(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"a": ["x", "y"], "b": ["u", "v"], "c": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(FeatureFileError, match="2 non-numeric columns"):
        read_features(tmp_path / "a.parquet")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros(4), "1-D array of 4 numbers"),
        (np.zeros((2, 2, 2)), "3-D array"),
        (np.array([["a", "b"], ["c", "d"]]), "expected numbers"),
        (np.array([[1, None]], dtype=object), "refusing to unpickle"),
    ],
)
def test_bad_npy_arrays(tmp_path, array, message):
    np.save(tmp_path / "a.npy", array, allow_pickle=True)
    with pytest.raises(FeatureFileError, match=message):
        read_features(tmp_path / "a.npy")


def test_garbage_npy(tmp_path):
    (tmp_path / "a.npy").write_bytes(b"not numpy at all")
    with pytest.raises(FeatureFileError, match="not a valid .npy file"):
        read_features(tmp_path / "a.npy")


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FeatureFileError, match="no such file"):
        read_features(tmp_path / "missing.csv")
    (tmp_path / "a.json").write_text("[]")
    with pytest.raises(FeatureFileError, match="unknown file extension .json"):
        read_features(tmp_path / "a.json")


def test_writing_over_an_input_is_refused(tmp_path, values):
    path = tmp_path / "a.npy"
    np.save(path, values)
    before = path.read_bytes()
    with pytest.raises(FeatureFileError, match="is also an input file"):
        write_features(tmp_path / "." / "a.npy", values * 2, inputs=[path])
    assert path.read_bytes() == before


def test_writing_into_a_missing_directory_is_refused(tmp_path, values):
    with pytest.raises(FeatureFileError, match="does not exist"):
        write_features(tmp_path / "nope" / "a.npy", values)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("old")

    def explode(handle):
        handle.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(path, explode)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.csv"]


def test_text_format_refuses_tokens_with_whitespace(tmp_path, values):
    with pytest.raises(FeatureFileError, match="contains whitespace"):
        write_features(tmp_path / "a.txt", values, tokens=["a b", "c", "d", "e", "f"])
    assert not (tmp_path / "a.txt").exists()


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX file modes only")
def test_atomic_write_gives_the_mode_a_plain_open_would(tmp_path):
    # mkstemp files are private (0600); an output file must not be.
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write(tmp_path / "new.txt", lambda f: f.write(b"x"))
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    os.chmod(plain, 0o640)
    atomic_write(plain, lambda f: f.write(b"y"))
    assert plain.stat().st_mode & 0o777 == 0o640 and plain.read_text() == "y"
