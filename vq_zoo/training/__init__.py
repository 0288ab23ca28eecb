"""Training harness: strategies, TensorBoard, checkpoints and fault handling."""

from vq_zoo.training.get_strategy import get_strategy
from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard
