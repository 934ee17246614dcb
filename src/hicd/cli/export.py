"""Export a checkpoint's network to ONNX or TorchScript for deployment without hicd.

The file takes two inputs, t1 and t2 (B×C×H×W float32 in [0, 1], dynamic batch, height and
width), and returns the B×2×H×W change logits; the checkpoint's metadata is stored with it.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hicd.inference.export import WRITERS

    parser.add_argument("--checkpoint", required=True, help="checkpoint to export")
    parser.add_argument(
        "--format", choices=tuple(WRITERS), default="onnx", help="file format (default: onnx)"
    )
    parser.add_argument(
        "--out", required=True, help="file to write (.onnx for onnx, .pt or .pth for torchscript)"
    )
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset version (default: 18)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (default: refuse)"
    )


def run(args: argparse.Namespace) -> int:
    from hicd.inference.export import export_checkpoint

    out = export_checkpoint(
        args.checkpoint, args.out, args.format, args.opset, overwrite=args.overwrite
    )
    print(f"wrote {args.format} model to {out}")
    return 0
