"""Training harness: strategies, TensorBoard, checkpoints and fault handling."""

from vq_zoo.training.compact_progbar_logger import CompactProgbarLogger
from vq_zoo.training.get_strategy import get_strategy
from vq_zoo.training.nan_guard import NaNGuard
from vq_zoo.training.resumable_backup_and_restore import ResumableBackupAndRestore
from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard
