"""vq_zoo: VQ-VAE, VQ-VAE-2 and gated PixelCNN priors for Keras 3 / TensorFlow."""

from vq_zoo.version import __version__
from vq_zoo import layers
from vq_zoo import likelihoods
from vq_zoo import metrics
from vq_zoo import models
from vq_zoo.layers import ResidualStack
from vq_zoo.layers import VectorQuantizer
from vq_zoo.layers import VectorQuantizerEMA
from vq_zoo.models import VQVAE
from vq_zoo.models import GatedPixelCNN1DPrior
from vq_zoo.models import GatedPixelCNNPrior
from vq_zoo.metrics import bits_per_dim
from vq_zoo import presets
from vq_zoo.presets import list_presets
from vq_zoo.presets import load_preset
