from vq_zoo.models.vqvae2.vqvae2 import VQVAE2
