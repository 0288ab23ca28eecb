from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.models.vqvae.vqvae_image_decoder import VQVAEImageDecoder
from vq_zoo.models.vqvae.vqvae_image_encoder import VQVAEImageEncoder
