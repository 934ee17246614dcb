"""Cost of writing the change map as a Cloud-Optimized GeoTIFF: rows into the scratch GeoTIFF
versus the COG conversion (overviews, COG layout), time and peak RSS, each case in a fresh
process.

    .venv/bin/python benchmarks/cog_output.py              # 8192² maps, three encodings
    .venv/bin/python benchmarks/cog_output.py --size 4096

Maps: ``binary`` (0/1 blobs with a nodata border), ``probability`` (a smooth field with a little
noise, float32) and ``noise`` (uniform random float32, the worst case for compression).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASES = ("binary", "probability", "noise")
ROWS = 256


def _rows(case: str, size: int, top: int, rng: np.random.Generator) -> np.ndarray:
    height = min(ROWS, size - top)
    if case == "noise":
        return rng.random((height, size), dtype=np.float32)
    y, x = np.mgrid[top : top + height, 0:size].astype(np.float32)
    field = 0.5 + 0.25 * np.sin(x / 97.0) * np.cos(y / 131.0) + 0.25 * np.sin((x + y) / 53.0)
    if case == "probability":
        return np.clip(field + 0.02 * rng.standard_normal(field.shape), 0, 1).astype(np.float32)
    values = (field > 0.75).astype(np.uint8)
    values[:, :64] = 255  # nodata border
    return values


def run_case(case: str, size: int) -> dict:
    from affine import Affine
    from rasterio.crs import CRS

    from hicd.inference.output import ChangeMapWriter

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "change.tif"
        started = time.perf_counter()
        writer = ChangeMapWriter(
            path, size, size, CRS.from_epsg(32650), Affine(0.5, 0, 0, 0, -0.5, 0), case != "binary"
        )
        with writer:
            for top in range(0, size, ROWS):
                writer.write(top, 0, _rows(case, size, top, rng))
            rows_done = time.perf_counter()
        finished = time.perf_counter()
        megabytes = path.stat().st_size / 2**20
    return {
        "case": case,
        "rows_s": rows_done - started,
        "cog_s": finished - rows_done,
        "file_mb": megabytes,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192, help="map side in pixels")
    parser.add_argument("--case", choices=CASES, help="run one case in this process (internal)")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.size)))
        return 0
    print(f"change map {args.size}×{args.size}: rows into the scratch GeoTIFF, then the COG copy")
    print("| map | rows written | COG conversion | COG / rows | file | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in CASES:
        output = subprocess.run(
            [sys.executable, __file__, "--case", case, "--size", str(args.size)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        row = json.loads(output.strip().splitlines()[-1])
        print(
            f"| {case} | {row['rows_s']:.1f} s | {row['cog_s']:.1f} s | "
            f"{row['cog_s'] / row['rows_s']:.2f} | {row['file_mb']:.1f} MiB | "
            f"{row['peak_rss_mb']:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
