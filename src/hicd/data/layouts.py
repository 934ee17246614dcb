"""Dataset layouts: the folder structures every command reads (``--layout``, ``data.kind``).

``generic`` (``A/``, ``B/``, ``label/``, ``list/SPLIT.txt``), ``levir_cd``
(``SPLIT/{A,B,label}/``), ``sv_cd`` (``SPLIT/{A,B,OUT}/``, JPEG labels) and ``bandon``
(``list_BANDON_SPLIT.txt``). Each is a dataset class of :mod:`hicd.data` called as
``cls(root, split, **options)`` (training), whose ``find_pairs(root, split, labels)`` lists
the pairs (the commands) and whose ``defaults`` are its dataset options (SV-CD's label
threshold, BANDON's ignored value). Without a split, every pair: the generic layout's files,
the other layouts' every split present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hicd.data.adapters import BANDON, LEVIRCD, SVCD
from hicd.data.dataset import BitemporalDataset, PairDataset, replace_t2
from hicd.data.pairing import PairFiles
from hicd.errors import check_choice

LAYOUTS: dict[str, Any] = {
    "generic": BitemporalDataset,
    "levir_cd": LEVIRCD,
    "bandon": BANDON,
    "sv_cd": SVCD,
}
"""Dataset layout → its dataset class, called as ``cls(root, split, **dataset_options)``."""


def layout_class(layout: str, option: str = "--layout") -> Any:
    """The dataset class of ``layout``; an unknown layout is a ConfigError naming ``option``."""
    return LAYOUTS[check_choice(layout, LAYOUTS, option)]


def layout_splits(root: str | Path, layout: str, split: str | None) -> list[str | None]:
    """The splits a command reads: ``[split]`` when given, else every split of ``root``
    (``[None]`` for the generic layout, whose pairs are all in ``A/`` and ``B/``)."""
    cls = layout_class(layout)
    return [split] if split is not None else list(cls.present_splits(root))


def layout_pairs(
    root: str | Path, layout: str = "generic", split: str | None = None, labels: bool = True
) -> list[PairFiles]:
    """The pairs of ``split`` (None: every pair) of the dataset ``root`` laid out as ``layout``;
    ``labels=False`` leaves the labels out (and needs none)."""
    return layout_class(layout).find_pairs(root, split, labels)


def open_layout(
    root: str | Path,
    layout: str = "generic",
    split: str | None = None,
    *,
    labels: bool = True,
    t2_dir: str | Path | None = None,
    **options: Any,
) -> PairDataset:
    """The dataset of ``split`` (None: every pair) of ``root`` in ``layout``.

    ``t2_dir`` replaces every t2 image by the file of that folder with the same name (a
    released degraded set); ``options`` are those of :class:`PairDataset` (degradation,
    value scale, ...): the layout's own (``defaults``) apply where an option is None.
    """
    cls = layout_class(layout)
    pairs = cls.find_pairs(root, split, labels)
    if t2_dir is not None:
        pairs = replace_t2(pairs, Path(t2_dir))
    given = {k: v for k, v in options.items() if not (k in cls.defaults and v is None)}
    return PairDataset(pairs, **{**cls.defaults, **given})
