"""Is int8 dynamic quantisation worth an ``onnx-int8`` engine? float32 and int8 side by side.

Exports the default ``siam_fpn`` (random weights; speed does not depend on them) as hicd's
engine does, quantises its convolutions with ONNX Runtime's ``quantize_dynamic`` (uint8
weights, after ONNX Runtime's pre-processing), and times both graphs alternately in one process
on a batch of 512² pairs (sessions as hicd builds them: no CPU arena). The engine change offers
an int8 engine only if int8 is at least 1.5× faster than float32 (and then loses at most 0.5 F1).

    .venv/bin/python benchmarks/onnx_int8.py --threads 2 --batch 4 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from hicd.inference.export import write_onnx
    from hicd.models import create_model
    from hicd.models.checkpoint import CheckpointInfo

    with tempfile.TemporaryDirectory() as folder:
        paths = {"float32": Path(folder) / "model.onnx", "int8": Path(folder) / "int8.onnx"}
        model = create_model("siam_fpn", pretrained=None).eval()
        write_onnx(model, CheckpointInfo(model.config), paths["float32"], 18)
        prepared = Path(folder) / "prepared.onnx"
        here = Path.cwd()
        os.chdir(folder)  # the pre-processing leaves scratch files in the working folder
        try:
            quant_pre_process(str(paths["float32"]), str(prepared), skip_symbolic_shape=True)
        finally:
            os.chdir(here)
        quantize_dynamic(
            str(prepared), str(paths["int8"]), weight_type=QuantType.QUInt8,
            op_types_to_quantize=["Conv"],
        )  # fmt: skip
        rng = np.random.default_rng(0)
        t1 = rng.random((args.batch, 3, args.size, args.size), dtype=np.float32)
        feeds = {"t1": t1, "t2": np.ascontiguousarray(t1[..., ::-1])}
        sessions = {}
        for name, path in paths.items():
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.enable_cpu_mem_arena = False
            sessions[name] = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        outputs = {name: session.run(None, feeds)[0] for name, session in sessions.items()}
        best = dict.fromkeys(sessions, float("inf"))
        for _ in range(args.repeats):  # alternate, so both see the same machine load
            for name, session in sessions.items():
                started = time.perf_counter()
                session.run(None, feeds)
                best[name] = min(best[name], time.perf_counter() - started)
    print(f"batch {args.batch}×{args.size}², {args.threads} threads, best of {args.repeats}")
    for name, seconds in best.items():
        print(f"{name}: {seconds:.3f} s, {best['float32'] / seconds:.2f}× float32")
    difference = np.abs(outputs["int8"] - outputs["float32"]).max()
    print(f"largest logit difference: {difference:.2e}")


if __name__ == "__main__":
    main()
