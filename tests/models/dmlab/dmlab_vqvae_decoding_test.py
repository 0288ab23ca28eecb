"""DMLabVQVAE's decodings of the map from the codes: the consensus map
against the exact per-position marginals of a tiny model (every map
enumerated, its probability from the teacher-forced forward pass), and one
consensus draw against plain sampling."""

import numpy as np
import pytest

from tests.generation.enumeration import every_map
from tests.generation.enumeration import position_marginals
from vq_zoo.models.dmlab import DMLabVQVAE

K, SHAPE, TEMPERATURE = 3, (2, 2), 1.0
CODES = np.array([[0, 1, 2], [5, 3, 7], [2, 6, 4], [7, 7, 1], [1, 2, 3], [4, 4, 4]],
                 np.int32)


def tiny_model():
    """A 2x2 map of K=3 codes. Its decoder's weights are drawn at a larger
    scale than Keras' initialisers (which give nearly uniform,
    position-independent marginals): each position's marginal then has a
    clear mode that depends on the position and the codes, and greedy
    decoding misses it at some positions."""
    model = DMLabVQVAE.code_map_model(
        num_embeddings=K, shape=SHAPE, embedding_dim=4, latent_num_embeddings=8,
        filters=8, num_downsamples=0, hidden_units=16, decoder_filters=8,
        decoder_layers=2, spatial_channels=2, conditioning_layers=1,
        quantizer_kwargs=dict(seed=3))
    rng = np.random.default_rng(1)
    for layer in (model.decoder, model.condition_decoder):
        for w in layer.weights:
            w.assign(rng.normal(0, 0.7, w.shape).astype("float32"))
    return model


def exact_marginals(model, codes, temperature):
    """`(batch, positions, K)`: each position's marginal under the decoder's
    distribution over whole maps, from all K^positions maps and the
    full forward pass (logits / temperature) of each."""
    positions = int(np.prod(SHAPE))
    every = every_map(K, positions)
    inputs = model._decoder_inputs(model.lookup(codes), None)
    out = []
    for i in range(len(codes)):
        cond = {k: np.repeat(np.asarray(v)[i:i + 1], len(every), axis=0)
                for k, v in inputs.items()}
        logits = np.asarray(model.decoder({**cond, "codes": every.reshape((-1,) + SHAPE)}),
                            np.float64).reshape(len(every), positions, K) / temperature
        out.append(position_marginals(every, logits))
    return np.stack(out)


def test_consensus_takes_the_argmax_of_the_exact_marginals():
    model = tiny_model()
    codes = CODES
    marginals = exact_marginals(model, codes, TEMPERATURE)
    num = 2000
    draws = np.asarray(model.decode_samples(codes, num, seed=0, temperature=TEMPERATURE))
    assert draws.shape == (len(codes), num) + SHAPE and draws.dtype == np.int32
    # The draws follow the model's marginals (4 standard errors at most)...
    flat = draws.reshape(len(codes), num, -1)
    freq = np.stack([[np.bincount(flat[b, :, p], minlength=K) / num
                      for p in range(flat.shape[-1])] for b in range(len(codes))])
    np.testing.assert_array_less(np.abs(freq - marginals),
                                 4 * np.sqrt(marginals * (1 - marginals) / num) + 1e-3)
    # ...and the consensus of many draws is each position's most probable
    # code, where the two likeliest codes are told apart (a margin of 10
    # standard errors of the difference: 19 of this model's 24 positions).
    consensus = np.asarray(model.decode(codes, decoding="consensus", num_samples=num,
                                        seed=0, temperature=TEMPERATURE))
    consensus = consensus.reshape(len(codes), -1)
    top2 = np.sort(marginals, axis=-1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 10 * np.sqrt(2 * top2[..., 1] / num)
    assert clear.sum() >= 18
    mode = marginals.argmax(-1)
    np.testing.assert_array_equal(consensus[clear], mode[clear])
    # Greedy decoding (here a loop of full forward passes: at each position
    # the argmax given the codes chosen before) misses a mode of this model,
    # so the check above tells consensus decoding from greedy decoding.
    inputs = model._decoder_inputs(model.lookup(codes), None)
    greedy = np.zeros((len(codes), int(np.prod(SHAPE))), np.int32)
    for p in range(greedy.shape[1]):
        logits = np.asarray(model.decoder({**inputs, "codes": greedy.reshape((-1,) + SHAPE)}))
        greedy[:, p] = logits.reshape(len(codes), -1, K)[:, p].argmax(-1)
    assert (greedy != mode)[clear].any()


def test_one_draw_of_consensus_is_plain_sampling_with_the_same_seed():
    model = tiny_model()
    codes = CODES
    for seed in (0, 11):
        sampled = np.asarray(model.decode(codes, seed=seed))
        np.testing.assert_array_equal(
            np.asarray(model.decode(codes, decoding="consensus", num_samples=1, seed=seed)),
            sampled)
        np.testing.assert_array_equal(
            np.asarray(model.decode_samples(codes, 1, seed=seed))[:, 0], sampled)


def test_decoding_refusals():
    model = tiny_model()
    codes = np.zeros((2, 3), np.int32)
    with pytest.raises(ValueError, match=r"`decoding` must be one of \('sample', "
                                         r"'greedy', 'consensus', 'regression'\), got 'beam'"):
        model.decode(codes, decoding="beam")
    with pytest.raises(ValueError, match="`greedy=True` contradicts `decoding='consensus'`"):
        model.decode(codes, greedy=True, decoding="consensus")
    with pytest.raises(ValueError, match="`num_samples` must be an integer >= 1, got 0"):
        model.decode(codes, decoding="consensus", num_samples=0)
