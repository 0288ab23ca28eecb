from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.models.vqvae.vqvae_image_decoder import VQVAEImageDecoder
from vq_zoo.models.vqvae.vqvae_image_encoder import VQVAEImageEncoder
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import GatedPixelCNN1DPrior
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior
from vq_zoo.models.vqvae2.vqvae2 import VQVAE2
from vq_zoo.models.wavenet.speech_encoder import SpeechEncoder
from vq_zoo.models.wavenet.wavenet_decoder import WaveNetDecoder
