"""Speed and memory of the dispersion losses (one forward + backward per step).

Measures, each step in a fresh subprocess so its peak RSS is its own:

* pairwise losses (mmd, uniformity, mma, mmcs, koleo) at N = 10,000, m = 128,
  against the direct full-matrix implementation people usually write
  (full cosine matrix, upper-triangle gather / diagonal mask, kernel, mean,
  autograd), with the speed-up measured in the same run;
* sliced, sliced_axis and lloyd at N = 10^4, 10^5, 10^6, m = 64, with the
  growth of the time per 10x more points;
* peak RSS of one step of mmd, mma, mmcs and koleo at N = 100,000, m = 128.

Writes a markdown table (default docs/benchmarks/losses.md) and prints it.

    python benchmarks/bench_losses.py            # full run (~15-30 min here)
    python benchmarks/bench_losses.py --quick    # smoke run, seconds
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

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks" / "losses.md"
PAIRWISE = ["mmd", "uniformity", "mma", "mmcs", "koleo"]
LINEAR = ["sliced", "sliced_axis", "lloyd"]
MEMORY = ["mmd", "mma", "mmcs", "koleo"]
MEMORY_LIMIT_MIB = 1.5 * 1024


# --------------------------------------------------------------------------
# worker side: runs in a subprocess
# --------------------------------------------------------------------------


def _naive_loss(name, Z):
    """The direct full-matrix implementations (the baseline)."""
    import torch

    n_points = Z.shape[0]
    cosines = Z @ Z.T
    if name in ("mmd", "uniformity"):
        rows, cols = torch.triu_indices(n_points, n_points, 1)
        pair_cosines = cosines[rows, cols]
        if name == "mmd":
            return torch.exp(-2.0 * (2 - 2 * pair_cosines)).mean()
        return torch.log(torch.exp(-2.0 * (2 - 2 * pair_cosines)).mean())
    eye = torch.eye(n_points, dtype=Z.dtype, device=Z.device)
    nearest = (cosines - 3 * eye).max(dim=1).values
    if name == "mma":
        return -torch.arccos(nearest.clamp(-1 + 1e-6, 1 - 1e-6)).mean()
    if name == "mmcs":
        return nearest.mean()
    return -torch.log(torch.sqrt((2 - 2 * nearest).clamp_min(0)) + 1e-8).mean()


def _run_job(job):
    import torch

    from sk_dispersion.losses import get_loss

    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    gen = torch.Generator().manual_seed(0)
    Z = torch.randn(job["n"], job["m"], generator=gen)
    Z = torch.nn.functional.normalize(Z, dim=1)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if job["kind"] == "naive":

        def loss_fn(X, generator):
            return _naive_loss(job["name"], X)
    else:
        loss_fn = get_loss(job["name"])
    times, cpu_times = [], []
    for repeat in range(job["warmup"] + job["repeats"]):
        X = Z.detach().requires_grad_()
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = loss_fn(X, generator=torch.Generator().manual_seed(repeat))
        loss.backward()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if not (torch.isfinite(loss) and torch.isfinite(X.grad).all()):
            raise RuntimeError(f"non-finite loss or gradient in {job}")
        if repeat >= job["warmup"]:
            times.append(elapsed)
            cpu_times.append(cpu)
        del X, loss
    return {
        **job,
        "times": times,
        "median_s": statistics.median(times),
        "median_cpu_s": statistics.median(cpu_times),
        "rss_before": rss_before,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _worker(jobs_json):
    sys.path.insert(0, str(REPO))
    results = [_run_job(job) for job in json.loads(jobs_json)]
    print(json.dumps(results))


# --------------------------------------------------------------------------
# driver side
# --------------------------------------------------------------------------


def _spawn(jobs):
    """Run jobs in one fresh interpreter and return their results."""
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(jobs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker failed for {jobs}:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _job(kind, name, n, m, repeats, warmup, threads):
    return dict(
        kind=kind,
        name=name,
        n=n,
        m=m,
        repeats=repeats,
        warmup=warmup,
        threads=threads,
    )


def _plan(args):
    if args.quick:
        pair_n, linear_ns, memory_n = 300, [1_000, 3_000], 1_000
        repeats, big_repeats = 1, 1
    else:
        pair_n, linear_ns, memory_n = 10_000, [10_000, 100_000, 1_000_000], 100_000
        repeats, big_repeats = args.repeats, max(1, args.repeats - 2)
    t = args.threads
    pair = [
        (
            _job("ours", name, pair_n, 128, repeats, 1, t),
            _job("naive", name, pair_n, 128, repeats, 1, t),
        )
        for name in PAIRWISE
    ]
    linear = [
        _job("ours", name, n, 64, big_repeats if n >= 1_000_000 else repeats, 1, t)
        for name in LINEAR
        for n in linear_ns
    ]
    memory = [_job("ours", name, memory_n, 128, 1, 0, t) for name in MEMORY]
    return pair, linear, memory


def _secs(row):
    return f"{row['median_s']:.3g} ({row['median_cpu_s']:.3g})"


def _mib(n_bytes):
    return n_bytes / 2**20


def _render(args, pair, linear, memory, started, load_start, load_end):
    import torch

    threads = args.threads or torch.get_num_threads()
    options = [
        "--quick" if args.quick else "",
        f"--repeats {args.repeats}" if args.repeats != 5 else "",
        f"--threads {args.threads}" if args.threads else "",
    ]
    command = " ".join(
        ["python benchmarks/bench_losses.py"] + [o for o in options if o]
    )
    lines = [
        "# Loss benchmarks",
        "",
        f"Command: `{command}` (repeats={pair[0][0]['repeats']}, "
        f"threads={threads}); "
        f"run {started:%Y-%m-%d %H:%M} UTC.",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, float32, CPU. "
        f"Load average (1 min) {load_start:.1f} at start, {load_end:.1f} at end "
        "(other jobs shared the machine).",
        "",
        "Times are the median wall-clock seconds of one forward + backward over",
        "the repeats (after one warm-up), with the process CPU seconds beside",
        "them (with one thread, CPU time is what the step costs on an idle core;",
        "wall time also counts waiting for a core on a loaded machine). Peak RSS",
        "is the whole fresh process (Python, torch, the points and their",
        "gradient included).",
        "",
        f"## Pairwise losses vs the direct full-matrix implementation, "
        f"N = {pair[0][0]['n']:,}, m = {pair[0][0]['m']}",
        "",
        "| method | N | m | blockwise s (CPU s) | naive s (CPU s) | speed-up wall "
        "(CPU) | blockwise peak MiB | naive peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ours, naive in pair:
        lines.append(
            f"| {ours['name']} | {ours['n']:,} | {ours['m']} | {_secs(ours)} "
            f"| {_secs(naive)} | {naive['median_s'] / ours['median_s']:.1f}x "
            f"({naive['median_cpu_s'] / ours['median_cpu_s']:.1f}x) "
            f"| {_mib(ours['peak_rss']):.0f} | {_mib(naive['peak_rss']):.0f} |"
        )
    lines += [
        "",
        f"## Sliced and Lloyd (16 planes / 256 samples), m = {linear[0]['m']}",
        "",
        "| method | N | m | median s (CPU s) | growth vs N/10, wall (CPU) | peak MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    previous = {}
    for row in linear:
        prior = previous.get(row["name"])
        growth = "-"
        if prior:
            growth = (
                f"{row['median_s'] / prior['median_s']:.1f}x "
                f"({row['median_cpu_s'] / prior['median_cpu_s']:.1f}x) "
                f"for {row['n'] / prior['n']:.0f}x N"
            )
        previous[row["name"]] = row
        lines.append(
            f"| {row['name']} | {row['n']:,} | {row['m']} | {_secs(row)} "
            f"| {growth} | {_mib(row['peak_rss']):.0f} |"
        )
    lines += [
        "",
        f"## Memory of one step at N = {memory[0]['n']:,}, m = {memory[0]['m']} "
        f"(limit {MEMORY_LIMIT_MIB:.0f} MiB)",
        "",
        "| method | N | m | s (CPU s) | RSS before step MiB | peak MiB | under limit |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in memory:
        peak = _mib(row["peak_rss"])
        lines.append(
            f"| {row['name']} | {row['n']:,} | {row['m']} | {_secs(row)} "
            f"| {_mib(row['rss_before']):.0f} | {peak:.0f} "
            f"| {'yes' if peak < MEMORY_LIMIT_MIB else 'NO'} |"
        )
    lines += [
        "",
        "Notes. Blockwise: `sk_dispersion.losses` with its defaults (512-row",
        "blocks on a CPU, upper-triangle block pairs only; kernel losses build",
        "the gradient in the same sweep, nearest-neighbour losses search",
        "without gradient and then differentiate the N gathered pairs). Naive:",
        "`Z @ Z.T`, then `triu_indices` gather + kernel + mean (mmd: gaussian,",
        "gamma = 2; uniformity: t = 2) or diagonal mask + row max (mma, mmcs,",
        "koleo), then autograd. Sliced: 16 planes, one matmul, then the angles",
        "sorted plane by plane in cache-sized groups (float32 angles as packed",
        "int64 keys); lloyd: 256 fresh samples, blockwise nearest-point search.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: torch default)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker)
        return 0
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()[0]
    pair_jobs, linear_jobs, memory_jobs = _plan(args)
    if args.quick:  # one interpreter for everything: fast, RSS not per step
        flat = [job for pair in pair_jobs for job in pair] + linear_jobs + memory_jobs
        results = iter(_spawn(flat))
        pair = [(next(results), next(results)) for _ in pair_jobs]
        linear = [next(results) for _ in linear_jobs]
        memory = [next(results) for _ in memory_jobs]
    else:
        pair, linear, memory = [], [], []
        for ours, naive in pair_jobs:
            pair.append((_spawn([ours])[0], _spawn([naive])[0]))
            print(f"{ours['name']}: done", file=sys.stderr, flush=True)
        for job in linear_jobs:
            linear.append(_spawn([job])[0])
            print(f"{job['name']} N={job['n']}: done", file=sys.stderr, flush=True)
        for job in memory_jobs:
            memory.append(_spawn([job])[0])
            print(f"memory {job['name']}: done", file=sys.stderr, flush=True)
    table = _render(args, pair, linear, memory, started, load_start, os.getloadavg()[0])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
