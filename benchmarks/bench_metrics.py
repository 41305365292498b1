"""Time and peak memory of the exact blockwise metrics.

Runs min_angle, nearest_neighbor_angles and hubness (k=10) on Gaussian points
(float32, m=64 by default) at N = 10^4 and 10^5, each case in a fresh
subprocess so that its peak resident memory is its own, and prints a table:
torch threads, median wall seconds over the repeats, CPU seconds (all threads;
on a busy machine wall time can be many times larger, and idle threads spin),
peak RSS of the process, and the increase over
the RSS just before the call (the metric's own working memory; the input
itself is N * m * 4 bytes). ``direct`` is the usual full-matrix code
(``arccos`` of the N x N float32 cosine matrix), run at N <= 20,000 only, for
comparison.

Usage::

    python benchmarks/bench_metrics.py            # N = 1e4, 1e5 (a few minutes)
    python benchmarks/bench_metrics.py --quick    # smoke run, seconds
    python benchmarks/bench_metrics.py --sizes 10000 --methods min_angle
    python benchmarks/bench_metrics.py --threads 1  # steadier on a busy machine
    python benchmarks/bench_metrics.py --threads 1 --output docs/benchmarks/metrics.md

With ``--output`` the table is also written as markdown (command, date, machine
and load average included).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

METHODS = ("min_angle", "nearest_neighbor_angles", "hubness", "direct")
DIRECT_MAX_N = 20_000


def _peak_rss_mib():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _direct_min_angle(X):
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    cosines = unit @ unit.T
    np.fill_diagonal(cosines, -1.0)
    return float(np.degrees(np.arccos(np.clip(cosines.max(), -1.0, 1.0))))


def _call(method, X):
    from sk_dispersion import metrics

    if method == "min_angle":
        return metrics.min_angle(X)
    if method == "nearest_neighbor_angles":
        return float(metrics.nearest_neighbor_angles(X).min())
    if method == "hubness":
        return metrics.hubness(X, k=10).skewness
    if method == "direct":
        return _direct_min_angle(X)
    raise ValueError(f"unknown method {method!r}")


def run_case(method, n_samples, dim, repeats, threads=None, seed=0):
    """Time ``method`` on fresh Gaussian data in this process; return a dict."""
    import torch

    import sk_dispersion.metrics  # noqa: F401  (import cost not timed)

    if threads:
        torch.set_num_threads(threads)

    X = np.random.default_rng(seed).standard_normal((n_samples, dim), np.float32)
    rss_before = _peak_rss_mib()
    seconds = []
    cpu_start = _cpu_seconds()
    for _ in range(repeats):
        start = time.perf_counter()
        value = _call(method, X)
        seconds.append(time.perf_counter() - start)
    cpu_seconds = _cpu_seconds() - cpu_start
    peak = _peak_rss_mib()
    return {
        "method": method,
        "n_samples": n_samples,
        "dim": dim,
        "threads": torch.get_num_threads(),
        "seconds": statistics.median(seconds),
        "cpu_seconds": cpu_seconds / repeats,
        "peak_rss_mib": peak,
        "extra_rss_mib": peak - rss_before,
        "value": value,
    }


def _run_in_subprocess(method, n_samples, dim, repeats, threads):
    command = [sys.executable, __file__, "--one", method]
    command += [str(n_samples), str(dim), str(repeats), str(threads or 0)]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def _format(row):
    return (
        f"{row['method']:<24} {row['n_samples']:>8} {row['dim']:>4} "
        f"{row['threads']:>3} {row['seconds']:>9.2f} {row['cpu_seconds']:>9.2f} "
        f"{row['peak_rss_mib']:>9.0f} {row['extra_rss_mib']:>9.0f}   "
        f"{row['value']:.6g}"
    )


def _markdown(argv, rows, started, load_start, load_end):
    import torch

    command = " ".join(["python benchmarks/bench_metrics.py", *argv])
    lines = [
        "# Metric benchmarks",
        "",
        f"Command: `{command}`; run {started:%Y-%m-%d %H:%M} UTC.",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, numpy "
        f"{np.__version__}. Load average (1 min) {load_start:.1f} at start, "
        f"{load_end:.1f} at end (other jobs shared the machine).",
        "",
        "Gaussian points, float32, each case in a fresh process. Seconds: median",
        "wall-clock seconds of one call; CPU s: process CPU seconds per call (all",
        "threads). Peak MiB is the whole process; extra MiB is the increase over",
        "the RSS just before the call (the metric's working memory; the input is",
        "N * m * 4 bytes). `direct` is the usual full-matrix `arccos` of the",
        "N x N cosine matrix, run only at N <= 20,000.",
        "",
        "| method | N | m | threads | seconds | CPU s | peak MiB | extra MiB | value |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['n_samples']:,} | {row['dim']} "
            f"| {row['threads']} | {row['seconds']:.3g} | {row['cpu_seconds']:.3g} "
            f"| {row['peak_rss_mib']:.0f} | {row['extra_rss_mib']:.0f} "
            f"| {row['value']:.6g} |"
        )
    lines += [
        "",
        "Values: min_angle and direct give the minimum pairwise angle in degrees,",
        "nearest_neighbor_angles the smallest nearest-neighbour angle (the same",
        "number), hubness the skewness of the 10-occurrence.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's choice); 1 is steadier on a busy machine",
    )
    parser.add_argument(
        "--output", type=Path, help="also write the table as markdown to this file"
    )
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()[0]

    if args.one:
        method, *numbers = args.one
        n_samples, dim, repeats, threads = map(int, numbers)
        print(json.dumps(run_case(method, n_samples, dim, repeats, threads)))
        return []

    if args.quick:
        # In-process and small: checks that the benchmark runs, not speed.
        cases = [(method, 1_000, 16) for method in args.methods]
        rows = [
            run_case(method, n, dim, repeats=1, threads=args.threads)
            for method, n, dim in cases
        ]
    else:
        rows = []
        for n_samples in args.sizes:
            for method in args.methods:
                if method == "direct" and n_samples > DIRECT_MAX_N:
                    continue
                rows.append(
                    _run_in_subprocess(
                        method, n_samples, args.dim, args.repeats, args.threads
                    )
                )
                print(_format(rows[-1]), file=sys.stderr, flush=True)

    print(
        f"{'method':<24} {'N':>8} {'m':>4} {'thr':>3} {'seconds':>9} {'cpu s':>9} "
        f"{'peak MiB':>9} {'extra MiB':>9}   value"
    )
    for row in rows:
        print(_format(row))
    if args.output:
        if "--output" in argv:  # the page names the command without its path
            index = argv.index("--output")
            argv = argv[:index] + argv[index + 2 :]
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(
            _markdown(argv, rows, started, load_start, os.getloadavg()[0])
        )
    return rows


if __name__ == "__main__":
    main()
