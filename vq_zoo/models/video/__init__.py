"""Action-conditioned video in the latent space of a per-frame VQ-VAE
(arXiv:1711.00937, section 4.4): `LatentVideoModel` pairs a frame `VQVAE`
with a `LatentVideoPrior` (a gated PixelCNN) over the next frame's codes
conditioned on the past frames' codes and the action (spatially, through a
dilated conditioning network, and globally)."""

from vq_zoo.models.video.latent_video_model import LatentVideoModel
from vq_zoo.models.video.latent_video_model import stack_history
from vq_zoo.models.video.latent_video_prior import LatentVideoPrior
