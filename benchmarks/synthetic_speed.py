"""Pairs per second of ``hicd.data.synthetic.generate_pair`` on one core.

Usage: python benchmarks/synthetic_speed.py [--size 256] [--pairs 200] [--repeats 3] [--pin]

Generation is single-threaded (elementwise numpy, no BLAS); numeric libraries are limited to one
thread anyway, and ``--pin`` also pins the process to one CPU. Besides the wall-clock rate it
prints the rate by CPU time, which other load on a shared machine disturbs less.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from hicd.data.synthetic import generate_pair  # noqa: E402


def _pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[256], help="S or H W")
    parser.add_argument("--pairs", type=int, default=200, help="pairs per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pin", action="store_true", help="pin the process to one CPU")
    args = parser.parse_args()
    size = args.size[0] if len(args.size) == 1 else (args.size[0], args.size[1])
    pinned = _pin_to_one_cpu() if args.pin else "not pinned"
    for index in range(10):  # warm caches (lookup tables, roof templates)
        generate_pair(args.seed, index, size)
    wall_rates, cpu_rates = [], []
    for run in range(args.repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        for index in range(args.pairs):
            generate_pair(args.seed, 1000 + run * args.pairs + index, size)
        wall_rates.append(args.pairs / (time.perf_counter() - start_wall))
        cpu_rates.append(args.pairs / (time.process_time() - start_cpu))
    shape = "x".join(map(str, args.size if len(args.size) == 2 else args.size * 2))
    print(
        f"generate_pair {shape}: {max(wall_rates):.1f} pairs/s best, "
        f"{statistics.median(wall_rates):.1f} median wall-clock; "
        f"{max(cpu_rates):.1f} pairs/s by CPU time "
        f"({args.repeats} runs x {args.pairs} pairs, one thread, {pinned})"
    )


if __name__ == "__main__":
    main()
