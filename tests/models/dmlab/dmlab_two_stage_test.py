"""DMLabTwoStage's map decoding: the chain's own `decoding` where a call
does not say (what `from_presets` and `DMLabFamily` read from the set's
recorded config), `reconstruct` by it, and the frames of many drawn maps
decoded in one call equal to decoding each map alone."""

import os

import numpy as np
import pytest

from vq_zoo import presets
from vq_zoo.generation.consensus import consensus_codes
from vq_zoo.models.dmlab import DMLabTwoStage
from vq_zoo.models.dmlab import DMLabVQVAE

GOLDENS = os.path.join(os.path.dirname(__file__), "..", "..", "goldens")


@pytest.fixture(scope="module")
def models():
    """The golden VQ-VAE (8x8x3 images -> 4x4 maps of K=16) as stage 1 and
    a small stage 2 over its maps, its decoder's weights drawn at a scale
    that makes the sampled maps differ from the greedy one."""
    frame_vqvae = presets.load_preset(os.path.join(GOLDENS, "vqvae_tiny"))
    code_vqvae = DMLabVQVAE.code_map_model(
        num_embeddings=16, shape=(4, 4), embedding_dim=4, latent_num_embeddings=8,
        filters=8, num_downsamples=0, hidden_units=16, decoder_filters=8,
        decoder_layers=2, quantizer_kwargs=dict(seed=3))
    rng = np.random.default_rng(2)
    for w in code_vqvae.decoder.weights:
        w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))
    frames = rng.integers(0, 256, (5, 8, 8, 3)).astype(np.uint8)
    return frame_vqvae, code_vqvae, frames


def test_the_chain_decodes_as_it_is_configured_where_a_call_does_not_say(models):
    frame_vqvae, code_vqvae, frames = models
    plain = DMLabTwoStage(frame_vqvae, code_vqvae)
    codes = plain.encode(frames)
    greedy = plain.decode_maps(codes, greedy=True)
    sampled = plain.decode_maps(codes, seed=5)
    assert (greedy != sampled).any()  # the choice shows
    assert (DMLabTwoStage(frame_vqvae, code_vqvae, decoding="greedy")
            .decode_maps(codes, seed=5) == greedy).all()
    consensus = DMLabTwoStage(frame_vqvae, code_vqvae, decoding="consensus", num_samples=5)
    expected = consensus_codes(code_vqvae.decode_samples(codes, 5, seed=5), 16)
    np.testing.assert_array_equal(consensus.decode_maps(codes, seed=5), expected)
    # A call's own choice wins over the chain's.
    np.testing.assert_array_equal(consensus.decode_maps(codes, seed=5, decoding="sample"),
                                  sampled)
    np.testing.assert_array_equal(consensus.decode_maps(codes, greedy=True), greedy)
    np.testing.assert_allclose(consensus.decode(codes, seed=5),
                               np.asarray(frame_vqvae.decode(expected)), atol=1e-6)


def test_reconstruct_follows_the_chain_and_is_greedy_without_one(models):
    frame_vqvae, code_vqvae, frames = models
    plain = DMLabTwoStage(frame_vqvae, code_vqvae)
    codes = plain.encode(frames)
    *_, decoded = plain.reconstruct(frames, seed=7)
    np.testing.assert_array_equal(decoded, plain.decode_maps(codes, greedy=True))
    chain = DMLabTwoStage(frame_vqvae, code_vqvae, decoding="consensus", num_samples=3)
    *_, decoded = chain.reconstruct(frames, seed=7)
    np.testing.assert_array_equal(
        decoded, consensus_codes(code_vqvae.decode_samples(codes, 3, seed=7), 16))
    *_, decoded = chain.reconstruct(frames, seed=7, greedy=True)
    np.testing.assert_array_equal(decoded, plain.decode_maps(codes, greedy=True))


def _decoded_in_calls(frame_vqvae, decode_draws):
    """`(frames, the number of maps of each call of frame_vqvae.decode)`
    of `decode_draws()`."""
    calls = []
    decode = frame_vqvae.decode
    frame_vqvae.decode = lambda maps: calls.append(len(maps)) or decode(maps)
    try:
        return decode_draws(), calls
    finally:
        del frame_vqvae.decode


@pytest.mark.parametrize("batch_size, calls", [
    (None, [30]),               # the default (256): all 30 maps in one call
    (30, [30]),
    (4, [4] * 7 + [2]),         # chunks smaller than the 30 maps, the last short
    (7, [7, 7, 7, 7, 2]),
    (1, [1] * 30),
])
def test_the_frames_of_many_draws_equal_one_call_each_in_bounded_calls(
        models, batch_size, calls):
    frame_vqvae, code_vqvae, frames = models
    chain = DMLabTwoStage(frame_vqvae, code_vqvae)
    draws = np.asarray(code_vqvae.decode_samples(chain.encode(frames), 6, seed=1))
    assert draws.shape == (5, 6, 4, 4)
    size = {} if batch_size is None else {"batch_size": batch_size}
    batched, made = _decoded_in_calls(frame_vqvae,
                                      lambda: chain.frames_of_draws(draws, **size))
    assert made == calls
    assert batched.shape == (5, 6, 8, 8, 3) and batched.dtype == np.float32
    one_each = np.stack([np.asarray(frame_vqvae.decode(draws[:, j])) for j in range(6)],
                        axis=1)
    np.testing.assert_allclose(batched, one_each, rtol=0, atol=1e-6)
    np.testing.assert_allclose(batched.mean(1), one_each.mean(1), rtol=0, atol=1e-6)


def test_frames_of_draws_refuses_a_bad_batch_size_or_draws(models):
    frame_vqvae, code_vqvae, frames = models
    chain = DMLabTwoStage(frame_vqvae, code_vqvae)
    draws = np.zeros((2, 3, 4, 4), np.int32)
    with pytest.raises(ValueError, match=r"^`batch_size` must be an integer >= 1, got 0$"):
        chain.frames_of_draws(draws, batch_size=0)
    with pytest.raises(ValueError, match=r"^`draws` must be drawn code maps \(batch, n, "
                                         r"height, width\), got shape \(4, 4\)$"):
        chain.frames_of_draws(draws[0, 0])


def test_the_chain_refuses_an_unknown_decoding(models):
    frame_vqvae, code_vqvae, _ = models
    with pytest.raises(ValueError, match="`decoding` must be one of"):
        DMLabTwoStage(frame_vqvae, code_vqvae, decoding="beam")
    with pytest.raises(ValueError, match="`num_samples` must be an integer >= 1"):
        DMLabTwoStage(frame_vqvae, code_vqvae, decoding="consensus", num_samples=0)
