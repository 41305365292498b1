"""The command line, run as a subprocess the way users run it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sk_dispersion import cli


def run_cli(*args, cwd, check_rc=None):
    """Run ``python -m sk_dispersion ARGS`` in ``cwd``; returns the finished process."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-m", "sk_dispersion", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("sk-dispersion: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def features():
    rng = np.random.default_rng(0)
    # A crowded cone: every row close to one direction.
    return (rng.normal(size=(60, 6)) * 0.2 + np.r_[3.0, 0, 0, 0, 0, 0]).astype(
        np.float32
    )


# ----------------------------------------------------------------------------- help


def test_help_lists_every_command(tmp_path):
    proc = run_cli("--help", cwd=tmp_path, check_rc=0)
    for command in ("disperse", "transform", "metrics", "prototypes", "demo"):
        assert command in proc.stdout


@pytest.mark.parametrize(
    "command", ["disperse", "transform", "metrics", "prototypes", "demo"]
)
def test_each_command_has_help(command, capsys):
    # In-process: argparse's help is the same text, and 5 interpreters are slow.
    assert cli.main([command, "--help"]) == 0
    assert f"usage: sk-dispersion {command}" in capsys.readouterr().out


def test_usage_errors_return_2_in_process(capsys):
    assert cli.main(["metrics"]) == 2
    assert "the following arguments are required: input" in capsys.readouterr().err
    assert cli.main(["prototypes", "3", "-2"]) == 2


def test_no_command_is_a_usage_error(tmp_path):
    proc = run_cli(cwd=tmp_path)
    assert proc.returncode == 2
    assert "usage" in proc.stderr


def test_method_list_matches_the_loss_registry():
    losses = pytest.importorskip("sk_dispersion.losses")
    assert set(cli.METHODS) >= set(losses.LOSSES)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        ("ragged.csv", "1,2,3\n4,5\n", ["ragged.csv", "line 2 has 2 values"]),
        ("words.txt", "a 1 2\nb 3 x\n", ["words.txt", "line 2, column 3: 'x'"]),
        ("nan.tsv", "1\t2\n3\tnan\n4\t5\n", ["nan.tsv", "line 2, column 2", "NaN"]),
        ("empty.csv", "", ["empty.csv", "file is empty"]),
        ("one.csv", "1,2,3\n", ["one.csv", "only 1 row"]),
        ("data.json", "[1, 2]", ["data.json", "unknown file extension .json"]),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, name, content, fragments):
    (tmp_path / name).write_text(content)
    proc = run_cli("metrics", name, cwd=tmp_path)
    assert_one_line_error(proc, *fragments)


def test_missing_file(tmp_path):
    proc = run_cli("disperse", "nope.npy", "-o", "out.npy", cwd=tmp_path)
    assert_one_line_error(proc, "nope.npy", "no such file")
    assert not (tmp_path / "out.npy").exists()


def test_nan_in_npy_names_the_row(tmp_path, features):
    features[7, 2] = np.inf
    np.save(tmp_path / "x.npy", features)
    proc = run_cli("metrics", "x.npy", cwd=tmp_path)
    assert_one_line_error(proc, "x.npy", "row 7", "inf")


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    proc = run_cli("metrics", "ragged.csv", "--debug", cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "FeatureFileError" in proc.stderr
    proc = run_cli("--debug", "metrics", "ragged.csv", cwd=tmp_path)
    assert "Traceback" in proc.stderr


def test_output_never_overwrites_the_input(tmp_path, features):
    np.save(tmp_path / "x.npy", features)
    before = (tmp_path / "x.npy").read_bytes()
    proc = run_cli("disperse", "x.npy", "-o", "./x.npy", cwd=tmp_path)
    assert_one_line_error(proc, "x.npy", "is also an input file")
    assert (tmp_path / "x.npy").read_bytes() == before


def test_model_file_that_is_not_a_model(tmp_path, features):
    np.save(tmp_path / "x.npy", features)
    (tmp_path / "model.skops").write_bytes(b"definitely not a zip")
    proc = run_cli("transform", "model.skops", "x.npy", "-o", "y.npy", cwd=tmp_path)
    assert_one_line_error(proc, "model.skops", "not an sk-dispersion model file")
    assert not (tmp_path / "y.npy").exists()


def test_model_file_with_foreign_code_is_refused_before_loading(tmp_path, features):
    skops_io = pytest.importorskip("skops.io")
    from sklearn.preprocessing import FunctionTransformer

    np.save(tmp_path / "x.npy", features)
    # The classic attack: a callable that runs a shell command when used.
    skops_io.dump(FunctionTransformer(func=os.system), tmp_path / "evil.skops")
    proc = run_cli("transform", "evil.skops", "x.npy", "-o", "y.npy", cwd=tmp_path)
    assert_one_line_error(proc, "evil.skops", "refusing to load", "system")


def test_model_file_holding_someone_elses_estimator(tmp_path, features):
    skops_io = pytest.importorskip("skops.io")
    from sklearn.preprocessing import StandardScaler

    np.save(tmp_path / "x.npy", features)
    skops_io.dump(StandardScaler().fit(features), tmp_path / "scaler.skops")
    proc = run_cli("transform", "scaler.skops", "x.npy", "-o", "y.npy", cwd=tmp_path)
    assert_one_line_error(
        proc, "scaler.skops", "StandardScaler", "not an sk_dispersion"
    )


def test_unknown_method_is_a_usage_error(tmp_path, features):
    np.save(tmp_path / "x.npy", features)
    proc = run_cli("disperse", "x.npy", "--method", "magic", cwd=tmp_path)
    assert proc.returncode == 2
    assert "invalid choice: 'magic'" in proc.stderr


# ----------------------------------------------------------------------------- commands


def test_disperse_then_transform_as_subprocesses(tmp_path, features):
    np.save(tmp_path / "x.npy", features)
    proc = run_cli(
        "disperse", "x.npy", "-o", "out.npy", "--method", "mmd", "--weight", "1",
        "--n-components", "4", "--max-iter", "20", "--save-model", "model.skops",
        cwd=tmp_path, check_rc=0,
    )  # fmt: skip
    assert "wrote 60 rows x 4 columns to out.npy" in proc.stdout
    dispersed = np.load(tmp_path / "out.npy")
    assert dispersed.shape == (60, 4)
    np.testing.assert_allclose(np.linalg.norm(dispersed, axis=1), 1, atol=1e-5)
    run_cli(
        "transform", "model.skops", "x.npy", "-o", "again.npy",
        cwd=tmp_path, check_rc=0,
    )  # fmt: skip
    np.testing.assert_allclose(np.load(tmp_path / "again.npy"), dispersed, atol=1e-6)


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".parquet", ".txt", ".vec"])
def test_disperse_and_transform_keep_tokens_in_every_format(
    tmp_path, features, ext, monkeypatch, capsys
):
    # In-process (same code as the console script, without paying for a fresh
    # interpreter and torch import per format).
    from sk_dispersion._io import read_features, write_features

    if ext == ".parquet":
        pytest.importorskip("pyarrow")
    monkeypatch.chdir(tmp_path)
    tokens = [f"w{i}" for i in range(len(features))]
    write_features(f"x{ext}", features, tokens=tokens)
    assert cli.main([
        "disperse", f"x{ext}", "--max-iter", "10", "--save-model", "m.skops",
    ]) == 0  # fmt: skip
    assert f"to x.dispersed{ext}" in capsys.readouterr().out
    dispersed = read_features(f"x.dispersed{ext}")
    assert dispersed.values.shape == (60, 6)
    assert dispersed.tokens == tokens
    assert cli.main(["transform", "m.skops", f"x{ext}", "-o", f"y{ext}"]) == 0
    again = read_features(f"y{ext}")
    assert again.tokens == tokens
    np.testing.assert_allclose(again.values, dispersed.values, atol=1e-6)


def test_transform_checks_the_number_of_columns(tmp_path, features, capsys):
    np.save(tmp_path / "x.npy", features)
    argv = ["disperse", str(tmp_path / "x.npy"), "--max-iter", "5"]
    assert cli.main([*argv, "--save-model", str(tmp_path / "m.skops")]) == 0
    np.save(tmp_path / "narrow.npy", features[:, :3])
    argv = ["transform", str(tmp_path / "m.skops"), str(tmp_path / "narrow.npy")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "narrow.npy: has 3 columns but the model was fitted on 6" in err


def test_metrics_json_is_machine_readable(tmp_path, features):
    np.save(tmp_path / "x.npy", features)
    proc = run_cli("metrics", "x.npy", "--json", "-k", "5", cwd=tmp_path, check_rc=0)
    report = json.loads(proc.stdout)
    assert report["n_rows"] == 60 and report["n_columns"] == 6
    from sk_dispersion.metrics import dispersion_report

    expected = dispersion_report(features, k=5)
    assert report["min_angle_deg"] == pytest.approx(expected["min_angle_deg"])


def test_metrics_table_is_printed(tmp_path, features):
    np.savetxt(tmp_path / "x.csv", features, delimiter=",")
    proc = run_cli("metrics", "x.csv", cwd=tmp_path, check_rc=0)
    assert (
        "min_angle_deg" in proc.stdout and "x.csv: 60 rows x 6 columns" in proc.stdout
    )


def test_prototypes_writes_unit_vectors(tmp_path):
    proc = run_cli(
        "prototypes", "6", "3", "-o", "p.csv", "--time-budget", "5",
        cwd=tmp_path, check_rc=0,
    )  # fmt: skip
    from sk_dispersion._io import read_features

    points = read_features(tmp_path / "p.csv").values
    assert points.shape == (6, 3)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1, atol=1e-6)
    # The octahedron is optimal for 6 points in R^3: 90 degrees.
    assert "minimum angle 9" in proc.stdout


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".parquet", ".txt", ".vec"])
def test_metrics_reads_every_format_as_a_subprocess(tmp_path, features, ext):
    # The console script's own reading of each format (the in-process test above
    # covers disperse/transform in every format).
    from sk_dispersion._io import write_features

    if ext == ".parquet":
        pytest.importorskip("pyarrow")
    write_features(tmp_path / f"x{ext}", features, tokens=[f"w{i}" for i in range(60)])
    proc = run_cli("metrics", f"x{ext}", "--json", cwd=tmp_path, check_rc=0)
    report = json.loads(proc.stdout)
    assert (report["n_rows"], report["n_columns"]) == (60, 6)
    from sk_dispersion.metrics import min_angle

    assert report["min_angle_deg"] == pytest.approx(min_angle(features), rel=1e-4)


def test_disperse_and_transform_keep_word_vector_tokens_as_subprocesses(
    tmp_path, features
):
    from sk_dispersion._io import read_features, write_features

    tokens = [f"word{i}" for i in range(60)]
    write_features(tmp_path / "x.vec", features, tokens=tokens)
    run_cli(
        "disperse", "x.vec", "--max-iter", "10", "--save-model", "m.skops",
        cwd=tmp_path, check_rc=0,
    )  # fmt: skip
    first = (tmp_path / "x.dispersed.vec").read_text().splitlines()
    assert first[0] == "60 6"  # .vec keeps the word2vec header
    assert first[1].split()[0] == "word0"
    run_cli("transform", "m.skops", "x.vec", "-o", "y.txt", cwd=tmp_path, check_rc=0)
    again = read_features(tmp_path / "y.txt")
    assert again.tokens == tokens
    np.testing.assert_allclose(
        again.values, read_features(tmp_path / "x.dispersed.vec").values, atol=1e-6
    )
