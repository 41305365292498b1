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

With ``--cache FILE`` every finished row is stored in a JSON file and rows
already stored there are not run again, so the full table can be measured in
short chunks (``--rows ... --cache FILE``) and the markdown page and figure
written from all stored rows at the end (``--cache FILE`` alone). Each row
records the 1-minute load average at its start.
"""

import argparse
import csv
import datetime
import json
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
# The "oracle": the paper's regularisers as Riemannian Adam for 2,500
# steps, best method, learning rate and seed picked per case after the fact.
ORACLE_ROWS = [(3, 13, 98.7), (3, 72, 98.5), (3, 120, 97.0), (8, 240, 99.4)]
EXTRA_KEYS = {(dim, n) for dim, n, _, _ in EXTRA_ROWS}
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

    load = os.getloadavg()[0]
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
        "load": load,
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

    load = os.getloadavg()[0]
    start = time.perf_counter()
    P = make_prototypes(n, dim, random_state=seed)
    seconds = time.perf_counter() - start
    return {
        "dim": dim,
        "n": n,
        "random": min_angle(random_start(n, dim, seed)),
        "ours": min_angle(P),
        "seconds": seconds,
        "load": load,
    }


def fejes_toth_bound(n):
    """Fejes Toth's upper bound (degrees) on the Tammes angle of n points in R^3."""
    omega = n / (n - 2) * math.pi / 6
    return math.degrees(math.acos((1 / math.tan(omega) ** 2 - 1) / 2))


def oracle_case(dim, n, oracle_pct, table, seed):
    """make_prototypes against the reference of one of the issue's oracle cases.

    The reference is the best-known angle where the table has one, else (n = 72,
    120 in R^3) Fejes Toth's upper bound, which any packing stays under, so the
    percentage is then a lower bound on the percentage of the best-known angle.
    """
    from sk_dispersion import make_prototypes
    from sk_dispersion.metrics import min_angle

    if (dim, n) in table:
        reference, kind = table[(dim, n)][0], "best-known"
    else:
        reference, kind = fejes_toth_bound(n), "Fejes Toth upper bound"
    load = os.getloadavg()[0]
    start = time.perf_counter()
    P = make_prototypes(n, dim, random_state=seed)
    seconds = time.perf_counter() - start
    ours = min_angle(P)
    return {
        "dim": dim,
        "n": n,
        "reference": reference,
        "kind": kind,
        "ours": ours,
        "pct": 100 * ours / reference,
        "oracle": oracle_pct,
        "seconds": seconds,
        "load": load,
    }


def format_markdown(rows, methods, large, commands, quick, figure=None, oracle=()):
    import torch

    loads = [r["load"] for r in rows + large if "load" in r]
    load_text = (
        f"1-minute load average at the start of each row: {min(loads):.2f} to "
        f"{max(loads):.2f} (column `load`)"
        if loads
        else ""
    )
    lines = [
        "# make_prototypes against the best-known packings",
        "",
        "Command(s):",
        "",
        *[f"    {c}" for c in commands],
        "",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
        + (", quick smoke run" if quick else "")
        + "  ",
        load_text,
        "",
        "`ours` is `make_prototypes(n, dim, random_state=0)` with default "
        "arguments; `%` is ours / best-known; `s` its wall-clock seconds. The "
        "method columns run `disperse(X0, method, random_state=0)` at default "
        "settings from the same uniformly random start X0 and give the "
        "percentage of the best-known angle they reach."
        + (
            " The rows (4, 24) and (8, 240) are the 24-cell and the E8 roots "
            "(60 degrees), not in the shipped table."
            if any((r["dim"], r["n"]) in EXTRA_KEYS for r in rows)
            else ""
        ),
        "",
    ]
    if figure is not None:
        lines += [f"![min angle against best-known]({figure})", ""]
    header = ["dim", "n", "best-known", "ours", "%", "s", "load"] + list(methods)
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
            f"{row.get('load', float('nan')):.2f}",
        ] + [f"{row.get(m, float('nan')):.1f}" for m in methods]
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
            values = [
                r[method] for r in rows if not math.isnan(r.get(method, math.nan))
            ]
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
            "Minimum angle in degrees.",
            "",
            "| dim | n | random points | ours | s | load |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for row in large:
            lines.append(
                f"| {row['dim']} | {row['n']} | {row['random']:.2f} | "
                f"{row['ours']:.2f} | {row['seconds']:.1f} | "
                f"{row.get('load', float('nan')):.2f} |"
            )
    if oracle:
        lines += [
            "",
            "## Against the issue's oracle",
            "",
            "The oracle is the paper's regularisers run as Riemannian Adam for "
            "2,500 steps with the best method, learning rate and seed picked per "
            "case after the fact (percentages of the best-known angle, quoted in "
            "the issue). Where the table has no best-known angle (72 and 120 "
            "points in R^3) ours is given as a percentage of Fejes Toth's upper "
            "bound, which no packing exceeds, so it is a lower bound on the "
            "percentage of the best-known angle; the bound is loose (the "
            "best-known angle for 24 points is 97.7% of it), so for those two "
            "rows this page does not decide the comparison with the oracle.",
            "",
            "| dim | n | reference | kind | ours | ours % | oracle % | s | load |",
            "|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for row in oracle:
            lines.append(
                f"| {row['dim']} | {row['n']} | {row['reference']:.4f} | "
                f"{row['kind']} | {row['ours']:.4f} | {row['pct']:.2f} | "
                f"{row['oracle']:.1f} | {row['seconds']:.1f} | {row['load']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def write_figure(rows, methods, path):
    """Percentage of the best-known angle per row: ours and each regulariser."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['dim']}:{r['n']}" for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(8, 0.22 * len(rows)), 4.5))
    for method in methods:
        ax.plot(
            x,
            [r.get(method, np.nan) for r in rows],
            ".",
            alpha=0.6,
            label=f"disperse({method})",
        )
    ax.plot(x, [r["pct"] for r in rows], "k*", markersize=9, label="make_prototypes")
    ax.axhline(100, color="grey", linewidth=0.8)
    ax.axhline(99.5, color="red", linewidth=0.8, linestyle="--", label="99.5%")
    ax.set_xticks(x, labels, rotation=90, fontsize=7)
    ax.set_xlabel("dim:n")
    ax.set_ylabel("min angle, % of best-known")
    ax.set_ylim(
        bottom=max(
            0,
            min(
                [r["pct"] for r in rows]
                + [
                    r.get(m, 100)
                    for r in rows
                    for m in methods
                    if not math.isnan(r.get(m, math.nan))
                ]
            )
            - 5,
        )
    )
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load_cache(path):
    if path is None or not path.exists():
        return {"rows": {}, "large": {}, "commands": []}
    return json.loads(path.read_text())


def save_cache(path, cache):
    if path is not None:
        path.write_text(json.dumps(cache, indent=1))


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
    parser.add_argument(
        "--skip-oracle",
        action="store_true",
        help="skip the issue's oracle cases (13, 72, 120 in R^3; 240 in R^8)",
    )
    parser.add_argument("--disperse-iter", type=int, default=None)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"markdown file (default: {DEFAULT_OUTPUT.relative_to(ROOT)}; "
        "none for --quick)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="JSON file of finished rows: reused, and extended with new rows",
    )
    parser.add_argument(
        "--no-figure", action="store_true", help="do not write the PNG figure"
    )
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_points.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    cache = load_cache(args.cache)
    cache["commands"].append(command.strip())

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
        key = f"{dim}:{n}"
        if key in cache["rows"] and all(m in cache["rows"][key] for m in methods):
            rows.append(cache["rows"][key])
            continue
        row = solve_row(dim, n, best, methods, disperse_iter, args.seed)
        rows.append(row)
        cache["rows"][key] = row
        save_cache(args.cache, cache)
        extra = " ".join(f"{m}={row[m]:.1f}%" for m in methods)
        print(
            f"dim={dim:>3} n={n:>3} best={best:.7f} ours={row['ours']:.7f} "
            f"({row['pct']:.4f}%) {row['seconds']:.1f}s {extra}",
            flush=True,
        )
    large = []
    cache.setdefault("oracle", {})
    oracle = []
    if not (args.quick or args.skip_oracle):
        for dim, n, pct in ORACLE_ROWS:
            key = f"{dim}:{n}"
            if key not in cache["oracle"]:
                cache["oracle"][key] = oracle_case(dim, n, pct, table, args.seed)
                save_cache(args.cache, cache)
                print(cache["oracle"][key], flush=True)
            oracle.append(cache["oracle"][key])
    if not (args.quick or args.skip_large):
        if "10000:128" not in cache["large"]:
            cache["large"]["10000:128"] = large_case(10_000, 128, args.seed)
            save_cache(args.cache, cache)
            print(cache["large"]["10000:128"], flush=True)
        large.append(cache["large"]["10000:128"])
    save_cache(args.cache, cache)
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        figure = None
        if not args.no_figure and rows:
            figure = output.with_suffix(".png")
            write_figure(rows, methods, figure)
            print(f"wrote {figure}")
        text = format_markdown(
            rows,
            methods,
            large,
            cache["commands"] if args.cache else [command.strip()],
            args.quick,
            figure=None if figure is None else figure.name,
            oracle=oracle,
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        print(f"wrote {output}")
    return rows


if __name__ == "__main__":
    main()
