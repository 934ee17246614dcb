"""``hicd fit|validate|test``: Lightning's CLI over the hicd training modules and YAML configs.

``model.class_path`` picks the stage (``hicd.training.TeacherModule`` or
``hicd.training.StudentModule``); ``data`` configures :class:`hicd.training.ChangeDataModule`.
Several ``--config`` files compose (later ones override earlier ones) and any option can be
overridden on the command line. A run folder (``trainer.default_root_dir``, by default
``runs/<data.kind>/<model run name>``) holds ``checkpoints/best.ckpt`` (best ``val/f1``),
``checkpoints/last.ckpt`` (latest validated state; ``--ckpt_path last`` resumes from it) and one ``version_N/`` per invocation with the resolved
``config.yaml``, ``metrics.csv`` and TensorBoard events. See ``docs/training.md``.

Files named in the config (backbone weights, teacher checkpoint, data root, unlabelled root,
``--ckpt_path``) are checked before anything is built, and hicd's own errors from building the
modules reach ``hicd.cli.main`` unwrapped, so a bad config gives one line naming the option.
Checkpoints are loaded with ``weights_only=True`` (no code from the file runs).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from hicd.errors import ConfigError, HicdError
from hicd.models.checkpoint import read_checkpoint
from hicd.models.encoders import IMAGENET
from hicd.training import ChangeDataModule, ChangeModule
from hicd.training.checkpointing import CLI_GROUPS, cli_defaults
from hicd.training.config import check_path
from hicd.training.quiet import expected_warnings_ignored

RUNS_DIR = "runs"
CHECKPOINT_DEFAULTS = cli_defaults()
"""``checkpoints/best.ckpt`` and ``last.ckpt``: ``hicd.training.checkpointing``."""
CHECKPOINT_GROUPS = tuple(CLI_GROUPS)
PATH_OPTIONS = {
    # option -> values that name no file, and what else the option takes
    "model.init_args.network.pretrained": (
        (None, "None", "null", "", IMAGENET),
        "; give the backbone weights file, imagenet (downloads) or null (random weights)",
    ),
    "model.init_args.teacher_checkpoint": ((None,), "; give the stage-1 checkpoint"),
    "data.root": ((None,), ""),  # unused by kind synthetic
    "data.unlabelled_root": (
        (None,),
        "; give a folder with A/ and B/ (unlabelled pairs), or leave the option out",
    ),
}
CKPT_PATH_NAMES = ("best", "last", "hpc", "registry")
"""``--ckpt_path`` values Lightning resolves itself (``registry:...`` too)."""


class HicdCLI(LightningCLI):
    """LightningCLI with the hicd checkpointing, run folders and loggers."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for group in CHECKPOINT_GROUPS:
            parser.add_lightning_class_args(ModelCheckpoint, group)
        parser.set_defaults(CHECKPOINT_DEFAULTS)
        parser.link_arguments("data.crop_size", "model.init_args.crop_size")
        parser.link_arguments("data.eval_tile", "model.init_args.eval_tile")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        # Checked before Lightning reads the file's hyperparameters (a raw unpickling error).
        named = ckpt_path in CKPT_PATH_NAMES or str(ckpt_path).startswith("registry:")
        if ckpt_path and not named:
            check_path("ckpt_path", ckpt_path)
            read_checkpoint(ckpt_path)

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        check_config_paths(config)
        if "weights_only" in config:
            if config.weights_only is False:
                raise ConfigError(
                    "weights_only: hicd loads checkpoints only with weights_only=True (no code "
                    "from the file runs); see Checkpoints in docs/prediction.md"
                )
            config.weights_only = True
        root = Path(config.trainer.default_root_dir or default_run_dir(config))
        config.trainer.default_root_dir = str(root)
        for group in CHECKPOINT_GROUPS:
            if config[group].dirpath is None:
                config[group].dirpath = str(root / "checkpoints")
        if config.trainer.logger in (None, True):
            config.trainer.logger = default_loggers(root)

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as error:
            # jsonargparse reports a failed constructor as a ValueError listing every type it
            # tried; hicd's own error (one line naming the option) is in the cause chain.
            cause = hicd_cause(error)
            if cause is None:
                raise
            raise cause from None
        if self.subcommand == "fit" and random_backbone(self.config[self.subcommand]):
            self.trainer.callbacks.append(RandomBackboneNote())


def check_config_paths(config: Namespace) -> None:
    """Raise ``ConfigError`` naming the option when a file in ``PATH_OPTIONS`` does not exist."""
    for option, (no_file, hint) in PATH_OPTIONS.items():
        value = config.get(option)
        if option == "data.root" and config.get("data.kind") == "synthetic":
            continue
        if value not in no_file:
            check_path(option, value, hint)


def random_backbone(config: Namespace) -> bool:
    """Whether a new fit's backbone starts from random weights (``network.pretrained: null``,
    the default). A resumed fit, a student initialised from its teacher and a student taking its
    network from the teacher's record (which warns itself) are not new random backbones."""
    if config.get("ckpt_path") or config.get("model.init_args.init_from_teacher"):
        return False
    student = getattr(_import_class(config.model.class_path), "role", "") == "student"
    if student and config.get("model.init_args.network") is None:
        return False
    return config.get("model.init_args.network.pretrained") in (None, "None", "null", "")


class RandomBackboneNote(Callback):
    """Says on stderr, once training starts (after every check of the config and the data),
    that the backbone starts from random weights: never silently."""

    @rank_zero_only
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        print(RANDOM_BACKBONE_NOTE, file=sys.stderr, flush=True)


RANDOM_BACKBONE_NOTE = (
    "hicd: note: model.init_args.network.pretrained is null, so the backbone starts from random "
    "weights (give a weights file to start from pretrained ones)"
)


def hicd_cause(error: BaseException) -> HicdError | None:
    """The first ``HicdError`` in ``error``'s chain of causes and contexts, if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, HicdError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def default_run_dir(config: Namespace) -> Path:
    """``runs/<data.kind>/<name>``, the name given by the module class (e.g. ``teacher`` or
    ``student-hicd-multi-x4``)."""
    module_class = _import_class(config.model.class_path)
    init_args = config.model.get("init_args")
    init_args = init_args.as_dict() if isinstance(init_args, Namespace) else dict(init_args or {})
    return Path(RUNS_DIR) / config.data.kind / module_class.run_name(init_args)


def default_loggers(root: Path) -> list[Namespace]:
    """A CSV logger and a TensorBoard logger writing into ``root/version_N`` (N: the next free
    number), so each invocation keeps its own metrics and resolved config."""
    version = next_version(root)
    return [
        Namespace(
            class_path="lightning.pytorch.loggers.CSVLogger",
            init_args=Namespace(save_dir=str(root), name="", version=version),
        ),
        Namespace(
            class_path="lightning.pytorch.loggers.TensorBoardLogger",
            init_args=Namespace(
                save_dir=str(root), name="", version=version, sub_dir="tensorboard"
            ),
        ),
    ]


def next_version(root: Path) -> int:
    """One more than the largest ``version_N`` folder in ``root`` (0 if there is none)."""
    numbers = [
        int(match[1])
        for path in (root.iterdir() if root.is_dir() else ())
        if path.is_dir() and (match := re.fullmatch(r"version_(\d+)", path.name))
    ]
    return max(numbers, default=-1) + 1


def _import_class(class_path: str) -> type:
    module_name, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


CLI_OPTIONS: dict[str, Any] = {
    "model_class": ChangeModule,
    "subclass_mode_model": True,
    "datamodule_class": ChangeDataModule,
    "seed_everything_default": 0,
    "auto_configure_optimizers": False,
}


def run_lightning_cli(argv: Sequence[str], **kwargs: Any) -> HicdCLI:
    """Run ``hicd fit|validate|test ...``; ``argv`` starts with the subcommand."""
    argv = list(argv)
    with expected_warnings_ignored(cli=True):
        # LightningCLI warns when given args while sys.argv has its own; pass None then.
        args = None if argv == sys.argv[1:] else argv
        return HicdCLI(args=args, **{**CLI_OPTIONS, **kwargs})


class _ParserBuilt(Exception):
    def __init__(self, parser: LightningArgumentParser) -> None:
        self.parser = parser


class _ParserOnly(HicdCLI):
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        raise _ParserBuilt(parser)


def config_parser() -> LightningArgumentParser:
    """The parser of ``hicd fit|validate|test``, to check configs without running anything:
    ``config_parser().parse_args(["fit", "--config", FILE])`` returns the resolved config
    (links applied, nothing instantiated)."""
    try:
        _ParserOnly(args=[], **CLI_OPTIONS)
    except _ParserBuilt as built:
        return built.parser
    raise AssertionError("LightningCLI did not parse")  # pragma: no cover
