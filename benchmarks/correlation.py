"""Time and peak memory of the efficient vs naive self-/cross-correlation losses.

Each measurement (forward + backward) runs in its own spawned process, so peak memory is
independent of the others: the peak RSS is reset (``/proc/self/clear_refs``) after imports,
a warm-up and input creation, and the extra peak is ``VmHWM`` after the run minus ``VmRSS``
before it. Without ``clear_refs`` it falls back to ``ru_maxrss`` (then the floor is the
import-time peak). Run from the repository root::

    .venv/bin/python benchmarks/correlation.py            # C=64, N = 64², 96², 128²
    .venv/bin/python benchmarks/correlation.py --sides 64 --repeats 1
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from pathlib import Path

MIB = 1024 * 1024
ARITY = {"self": 2, "cross": 4}


def _status_kib(field: str) -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_bytes(reset: bool) -> int:
    hwm = _status_kib("VmHWM") if reset else None
    return (hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _measure(
    kind: str, impl: str, batch: int, channels: int, side: int, repeats: int, threads: int
):
    """Child process: (best seconds of forward + backward, extra peak bytes, loss value)."""
    import torch

    from hicd.distillation import correlation

    torch.set_num_threads(threads)
    prefix = "" if impl == "efficient" else "naive_"
    fn = getattr(correlation, f"{prefix}{kind}_correlation_loss")
    warm = [torch.randn(1, 4, 4, 4, requires_grad=True) for _ in range(ARITY[kind])]
    fn(*warm).backward()
    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randn(batch, channels, side, side, generator=gen).requires_grad_()
        for _ in range(ARITY[kind])
    ]
    reset = _reset_peak()
    baseline = _status_kib("VmRSS") * 1024
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss = fn(*inputs)
        loss.backward()
        times.append(time.perf_counter() - start)
        value = loss.item()
        del loss
        for x in inputs:
            x.grad = None
    return min(times), _peak_bytes(reset) - baseline, value


def _run_child(*args) -> tuple[float, int, float]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measure, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--sides", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--no-acceptance", action="store_true", help="skip the B=2, C=256, 128² efficient check"
    )
    args = parser.parse_args()

    print(
        f"B={args.batch} C={args.channels} threads={args.threads}, forward+backward, "
        f"best of {args.repeats}; memory = extra peak RSS in MiB"
    )
    header = (
        f"{'loss':<6}{'N':>8}{'eff s':>9}{'naive s':>9}{'t ratio':>9}"
        f"{'eff MiB':>9}{'naive MiB':>11}{'mem ratio':>11}{'rel diff':>10}"
    )
    print(header)
    for kind in ARITY:
        for side in args.sides:
            common = (args.batch, args.channels, side, args.repeats, args.threads)
            t_e, m_e, v_e = _run_child(kind, "efficient", *common)
            t_n, m_n, v_n = _run_child(kind, "naive", *common)
            print(
                f"{kind:<6}{side * side:>8}{t_e:>9.3f}{t_n:>9.3f}{t_n / t_e:>9.1f}"
                f"{m_e / MIB:>9.1f}{m_n / MIB:>11.1f}{m_n / max(m_e, 1):>11.1f}"
                f"{abs(v_e - v_n) / abs(v_n):>10.1e}",
                flush=True,
            )
    if not args.no_acceptance:
        print("\nacceptance: efficient, B=2 C=256 N=128², limit 300 MiB extra peak")
        for kind in ARITY:
            t_e, m_e, _ = _run_child(kind, "efficient", 2, 256, 128, 1, args.threads)
            verdict = "ok" if m_e < 300 * MIB else "OVER"
            print(f"{kind:<6} {t_e:7.2f} s {m_e / MIB:8.1f} MiB  {verdict}", flush=True)


if __name__ == "__main__":
    main()
