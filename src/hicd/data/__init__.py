"""Bi-temporal data: readers, dataset layouts, transforms, tiling and synthetic scenes."""

from hicd.data.adapters import BANDON, LEVIRCD, SVCD
from hicd.data.collate import collate_samples
from hicd.data.dataset import BitemporalDataset, PairDataset, replace_t2
from hicd.data.io import IGNORE_INDEX, read_image, read_label
from hicd.data.layouts import LAYOUTS, layout_pairs, open_layout
from hicd.data.pairing import PairFiles, pair_folders
from hicd.data.synthetic import SyntheticChangeDataset, generate_pair, write_synthetic_dataset
from hicd.data.tiling import DEFAULT_TILE, Box, Tiling, grid_windows
from hicd.data.transforms import training_transform

__all__ = [
    "BANDON",
    "DEFAULT_TILE",
    "IGNORE_INDEX",
    "LAYOUTS",
    "LEVIRCD",
    "SVCD",
    "BitemporalDataset",
    "Box",
    "PairDataset",
    "PairFiles",
    "SyntheticChangeDataset",
    "Tiling",
    "collate_samples",
    "generate_pair",
    "grid_windows",
    "layout_pairs",
    "open_layout",
    "pair_folders",
    "read_image",
    "read_label",
    "replace_t2",
    "training_transform",
    "write_synthetic_dataset",
]
