"""Export a checkpoint's network to ONNX or TorchScript for deployment without hicd.

The file takes two inputs, t1 and t2 (B×C×H×W float32 in [0, 1], dynamic batch, height and
width), and returns the B×2×H×W change logits; the checkpoint's metadata is stored with it.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hicd.inference.export import WRITERS

    parser.add_argument("--checkpoint", required=True, help="checkpoint to export")
    parser.add_argument("--format", choices=tuple(WRITERS), default="onnx", help="file format")
    parser.add_argument("--out", required=True, help="file to write (.onnx, .pt)")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset version")


def run(args: argparse.Namespace) -> int:
    from hicd.inference.export import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out, args.format, args.opset)
    print(f"wrote {args.format} model to {out}")
    return 0
