"""DeepMind Lab's two-stage VQ-VAE (arXiv:1711.00937, section 4.2): 84x84
frames to 21x21 codes (stage 1, a plain `VQVAE`), 21x21 codes to 3 codes of
3 codebooks (stage 2, `DMLabVQVAE` with a PixelCNN decoder), a length-3
prior over those, `DMLabTwoStage` chaining them, and `MapHeadTuner`
(stage 2's map head trained on frames through stage 1's decoder)."""

from vq_zoo.models.dmlab.code_map_encoder import CodeMapEncoder
from vq_zoo.models.dmlab.codebook_merge import merge_codebook
from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
from vq_zoo.models.dmlab.dmlab_vqvae import DMLabVQVAE
from vq_zoo.models.dmlab.latent_map_decoder import LatentMapDecoder
from vq_zoo.models.dmlab.map_head_tuner import MapHeadTuner
