"""make_prototypes against the best-known packings, and the regularisers beside it.

For every row of the best-known table (sk_dispersion/data/tammes_best_known.csv:
the Tammes problem in R^3 for n = 4..40, regular simplices and cross-polytopes
up to dimension 128), prints and writes as markdown: the best-known minimum
angle, the angle make_prototypes reaches with its default arguments, the
percentage, and the seconds it took. For comparison the same rows are solved
by ``disperse()`` from uniformly random points with each regulariser of
sk_dispersion.losses at its default settings (percentage of the best-known
angle). Two extra rows check configurations outside the table (the 24-cell and
the E8 roots, both 60 degrees), and a last table gives 10,000 prototypes in
R^128 against random points.

Usage::

    python benchmarks/bench_points.py                 # full run (~20-40 min)
    python benchmarks/bench_points.py --quick         # smoke run, seconds
    python benchmarks/bench_points.py --skip-disperse --rows 3:13 3:24
"""

import argparse
import csv
import datetime
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "sk_dispersion" / "data" / "tammes_best_known.csv"
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks" / "points.md"
EXTRA_ROWS = [(4, 24, 60.0, "24-cell"), (8, 240, 60.0, "E8 root system")]
QUICK_ROWS = [(3, 5), (3, 7), (3, 12)]


def load_table():
    with open(TABLE, newline="") as handle:
        return [
            (int(r["dim"]), int(r["n"]), float(r["best_angle_deg"]), r["source"])
            for r in csv.DictReader(handle)
        ]


def random_start(n, dim, seed):
    X = np.random.default_rng(seed).normal(size=(n, dim))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def solve_row(dim, n, best, methods, disperse_iter, seed):
    from sk_dispersion import disperse, make_prototypes
    from sk_dispersion.metrics import min_angle

    start = time.perf_counter()
    P = make_prototypes(n, dim, random_state=seed)
    seconds = time.perf_counter() - start
    ours = min_angle(P)
    row = {
        "dim": dim,
        "n": n,
        "best": best,
        "ours": ours,
        "pct": 100 * ours / best,
        "seconds": seconds,
    }
    X0 = random_start(n, dim, seed)
    for method in methods:
        kwargs = {} if disperse_iter is None else {"n_iter": disperse_iter}
        try:
            Z = disperse(X0, method=method, random_state=seed, **kwargs)
            row[method] = 100 * min_angle(Z) / best
        except ImportError:
            row[method] = float("nan")
    return row


def large_case(n, dim, seed):
    from sk_dispersion import make_prototypes
    from sk_dispersion.metrics import min_angle

    start = time.perf_counter()
    P = make_prototypes(n, dim, random_state=seed)
    seconds = time.perf_counter() - start
    return {
        "dim": dim,
        "n": n,
        "random": min_angle(random_start(n, dim, seed)),
        "ours": min_angle(P),
        "seconds": seconds,
    }


def format_markdown(rows, methods, large, command, quick):
    lines = [
        "# make_prototypes against the best-known packings",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}" + (", quick smoke run" if quick else ""),
        "",
        "`ours` is `make_prototypes(n, dim, random_state=0)` with default "
        "arguments; `%` is ours / best-known; `s` its wall-clock seconds. The "
        "method columns run `disperse(X0, method, random_state=0)` at default "
        "settings from the same uniformly random start X0 and give the "
        "percentage of the best-known angle they reach.",
        "",
    ]
    header = ["dim", "n", "best-known", "ours", "%", "s"] + list(methods)
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---:" for _ in header) + "|")
    for row in rows:
        cells = [
            str(row["dim"]),
            str(row["n"]),
            f"{row['best']:.7f}",
            f"{row['ours']:.7f}",
            f"{row['pct']:.4f}",
            f"{row['seconds']:.1f}",
        ] + [f"{row[m]:.1f}" for m in methods]
        lines.append("| " + " | ".join(cells) + " |")
    if rows:
        pct = [r["pct"] for r in rows]
        lines += [
            "",
            f"Worst row: {min(pct):.4f}%; rows at >= 99.999%: "
            f"{sum(p >= 99.999 for p in pct)}/{len(pct)}; slowest row: "
            f"{max(r['seconds'] for r in rows):.1f} s.",
        ]
        for method in methods:
            values = [r[method] for r in rows if not math.isnan(r[method])]
            if values:
                lines.append(
                    f"- `{method}` through disperse: median "
                    f"{np.median(values):.1f}%, worst {min(values):.1f}%"
                )
    if large:
        lines += [
            "",
            "## Many prototypes",
            "",
            "| dim | n | random points | ours | s |",
            "|---:|---:|---:|---:|---:|",
        ]
        for row in large:
            lines.append(
                f"| {row['dim']} | {row['n']} | {row['random']:.2f} | "
                f"{row['ours']:.2f} | {row['seconds']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def parse_rows(specs):
    rows = []
    for spec in specs:
        dim, n = spec.split(":")
        rows.append((int(dim), int(n)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, seconds")
    parser.add_argument("--rows", nargs="*", help="only these DIM:N rows")
    parser.add_argument("--skip-disperse", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--disperse-iter", type=int, default=None)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"markdown file (default: {DEFAULT_OUTPUT.relative_to(ROOT)}; "
        "none for --quick)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from sk_dispersion.losses import LOSSES

    table = {(d, n): (best, src) for d, n, best, src in load_table()}
    for dim, n, best, src in EXTRA_ROWS:
        table[(dim, n)] = (best, src)
    if args.quick:
        wanted = QUICK_ROWS
        methods = ["sliced", "mma"]
        disperse_iter = 20
    else:
        wanted = parse_rows(args.rows) if args.rows else list(table)
        methods = [] if args.skip_disperse else sorted(LOSSES)
        disperse_iter = args.disperse_iter
    rows = []
    for dim, n in wanted:
        best = table[(dim, n)][0]
        row = solve_row(dim, n, best, methods, disperse_iter, args.seed)
        rows.append(row)
        extra = " ".join(f"{m}={row[m]:.1f}%" for m in methods)
        print(
            f"dim={dim:>3} n={n:>3} best={best:.7f} ours={row['ours']:.7f} "
            f"({row['pct']:.4f}%) {row['seconds']:.1f}s {extra}",
            flush=True,
        )
    large = []
    if not (args.quick or args.skip_large):
        large.append(large_case(10_000, 128, args.seed))
        print(large[-1], flush=True)
    command = "python benchmarks/bench_points.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        text = format_markdown(rows, methods, large, command.strip(), args.quick)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        print(f"wrote {output}")
    return rows


if __name__ == "__main__":
    main()
