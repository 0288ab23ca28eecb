"""The paper's speech VQ-VAE (section 4.3), assembled from the shared parts."""


def speech_vqvae(
    num_speakers,
    num_hiddens=256,
    embedding_dim=64,
    num_embeddings=512,
    num_downsamples=6,
    filters=64,
    dilation_cycle=10,
    num_cycles=3,
    output_filters=None,
    speaker_dim=None,
    speaker_names=None,
    sample_rate=16000,
    commitment_cost=0.25,
    ema=True,
    decay=0.99,
    crop_length=None,
    quantizer_kwargs=None,
):
    """`VQVAE(SpeechEncoder, quantiser, WaveNetDecoder, likelihood=MuLaw(),
    latent_conditioning="local")`: 16-bit audio in [-1, 1] to one code per
    `2 ** num_downsamples` samples (K=`num_embeddings`), decoded by a
    WaveNet conditioned on the upsampled codes and the speaker.

    `fit(x, speakers)` with x `(batch, time, 1)` float and int speakers;
    `decode(codes, condition=speakers)` samples audio (`codes * hop`
    samples). `crop_length`: build the VQ-VAE for that training length
    (any length encodes and decodes afterwards). Returns the built,
    uncompiled model.

    Example:
    >>> model = speech_vqvae(num_speakers=2, num_hiddens=8, embedding_dim=4,
    ...                      num_embeddings=16, filters=8, dilation_cycle=2,
    ...                      num_cycles=1, crop_length=128)
    >>> tuple(model.encode(keras.ops.zeros((1, 128, 1))).shape)
    (1, 2)
    """
    from vq_zoo.layers.vector_quantizer import VectorQuantizer
    from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA
    from vq_zoo.likelihoods.mu_law import MuLaw
    from vq_zoo.models.vqvae.vqvae import VQVAE
    from vq_zoo.models.wavenet.speech_encoder import SpeechEncoder
    from vq_zoo.models.wavenet.wavenet_decoder import WaveNetDecoder

    quantizer_kwargs = dict(quantizer_kwargs or {})
    if ema:
        quantizer = VectorQuantizerEMA(embedding_dim, num_embeddings,
                                       commitment_cost=commitment_cost, decay=decay,
                                       name="quantizer", **quantizer_kwargs)
    else:
        quantizer = VectorQuantizer(embedding_dim, num_embeddings,
                                    commitment_cost=commitment_cost, name="quantizer",
                                    **quantizer_kwargs)
    model = VQVAE(
        SpeechEncoder(num_hiddens, embedding_dim, num_downsamples, name="encoder"),
        quantizer,
        WaveNetDecoder(
            num_embeddings=256, filters=filters, dilation_cycle=dilation_cycle,
            num_cycles=num_cycles, output_filters=output_filters,
            local_condition_dim=embedding_dim, hop_length=2 ** num_downsamples,
            num_classes=num_speakers, condition_dim=speaker_dim,
            speaker_names=speaker_names,
            sample_rate=sample_rate, name="decoder"),
        likelihood=MuLaw(),
        latent_conditioning="local",
    )
    model.build((None, crop_length or 2 ** num_downsamples, 1))
    return model


__all__ = ["speech_vqvae"]
