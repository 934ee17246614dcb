"""The cross-validated real-data study: does a distilled student beat one trained without
distillation on real pairs with one degraded date?

Modules, in the order the study uses them:

* :mod:`.folds`: the datasets and their folds (LEVIR-CD leave-one-tile-out over six full
  tiles, SZTAKI AirChange k-fold by image), written once as 256² blocks with per-fold lists;
* :mod:`.configs`: the distillation configurations, the two recipes (``scratch``, ``finetune``),
  the training budget and the fixed plan;
* :mod:`.records`: one small JSON record per finished run, committed under
  ``benchmarks/results/``;
* :mod:`.runs`: training and scoring a run into its record (checkpoints stay in a work folder);
* :mod:`.statistics`: paired differences, intervals over folds and a cell bootstrap;
* :mod:`.report`: the tables, computed from records alone;
* :mod:`.cli`: ``python -m benchmarks.study`` (see docs/benchmarks.md).
"""
