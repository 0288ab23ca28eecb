from vq_zoo.models.wavenet.speech_encoder import SpeechEncoder
from vq_zoo.models.wavenet.speech_vqvae import speech_vqvae
from vq_zoo.models.wavenet.wavenet_decoder import WaveNetDecoder
