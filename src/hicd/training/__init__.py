"""Lightning training: the data module, the stage-1 teacher and the stage-2 student.

Run through ``hicd fit|validate|test --config FILE.yaml`` (see ``docs/training.md``).
"""

from hicd.training.base import ChangeModule
from hicd.training.config import NetworkConfig, OptimConfig
from hicd.training.data import DATASET_KINDS, ChangeDataModule, SyntheticConfig
from hicd.training.student import StudentModule
from hicd.training.teacher import TeacherModule

__all__ = [
    "DATASET_KINDS",
    "ChangeDataModule",
    "ChangeModule",
    "NetworkConfig",
    "OptimConfig",
    "StudentModule",
    "SyntheticConfig",
    "TeacherModule",
]
