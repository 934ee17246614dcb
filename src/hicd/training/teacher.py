"""Stage 1: the teacher, trained on clean image pairs."""

from __future__ import annotations

from torch import Tensor

from hicd.models.checkpoint import CheckpointInfo
from hicd.models.losses import TaskLossConfig
from hicd.training.base import Batch, ChangeModule, batch_size_of
from hicd.training.config import NetworkConfig, OptimConfig, as_config


class TeacherModule(ChangeModule):
    """A change-detection network trained with the change-detection loss on clean pairs.

    Args:
        network: the architecture and its pretrained backbone.
        optim: AdamW and its learning-rate schedule.
        loss: the change-detection loss (cross-entropy ignoring 255, optional Dice).
        crop_size: training crop size (set by the CLI from ``data.crop_size``).
        eval_tile: validation/test window (set by the CLI from ``data.eval_tile``).
        eval_overlap: overlap of those windows (None: the default rule).
    """

    role = "teacher"

    def __init__(
        self,
        network: NetworkConfig | None = None,
        optim: OptimConfig | None = None,
        loss: TaskLossConfig | None = None,
        crop_size: int | None = None,
        eval_tile: int | None = None,
        eval_overlap: int | None = None,
    ) -> None:
        super().__init__(optim, crop_size, eval_tile, loss, eval_overlap)
        self._save_plain_hyperparameters()
        self.network = as_config(NetworkConfig, network, "model.network")
        self.model = self.network.build()

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        logits = self.model(batch["t1"], batch["t2"]).logits
        terms = self.task_terms(logits, batch["mask"])
        self.log_loss(terms["cd"], terms, batch_size_of(batch))
        return terms["cd"]

    def checkpoint_info(self) -> CheckpointInfo:
        return CheckpointInfo(
            model_config=dict(self.model.config),
            role="teacher",
            tile_size=self.crop_size,
            extra={"pretrained": self.network.pretrained},
        )
