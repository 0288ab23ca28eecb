"""WaveNetDecoder: causality, stepped == full forward pass, cached == naive
sampling, any length, lengths not divisible by the hop, saving."""

import keras
import numpy as np
import pytest

from vq_zoo.generation.sampler import logits_with_cache
from vq_zoo.models.wavenet.speech_vqvae import speech_vqvae
from vq_zoo.models.wavenet.wavenet_decoder import WaveNetDecoder

HOP, D, SPEAKERS = 4, 3, 3


def make_decoder(**kwargs):
    keras.utils.set_random_seed(0)
    args = dict(num_embeddings=16, filters=8, dilation_cycle=3, num_cycles=2,
                local_condition_dim=D, hop_length=HOP, num_classes=SPEAKERS)
    args.update(kwargs)
    return WaveNetDecoder(**args)


def inputs(batch, time, seed=0):
    rng = np.random.default_rng(seed)
    steps = -(-time // HOP)
    return {
        "codes": rng.integers(0, 16, (batch, time)).astype("int32"),
        "condition": rng.integers(0, SPEAKERS, batch).astype("int32"),
        "spatial_condition": rng.normal(size=(batch, steps, D)).astype("float32"),
    }


def test_dilations_and_receptive_field():
    dec = make_decoder()
    assert dec.dilation_rates == (1, 2, 4, 1, 2, 4)
    # 1 (the shifted input) + (k - 1) * sum of the dilations.
    assert dec.receptive_field == 1 + 2 * (1 + 2 + 4)


def test_causal_output_at_t_ignores_samples_at_t_and_later():
    dec = make_decoder()
    x = inputs(1, 24)
    base = np.asarray(dec(x))
    t = 13
    changed = dict(x, codes=x["codes"].copy())
    changed["codes"][:, t:] = (changed["codes"][:, t:] + 5) % 16
    out = np.asarray(dec(changed))
    np.testing.assert_array_equal(out[:, : t + 1], base[:, : t + 1])
    # ...and does depend on the sample just before it.
    assert np.abs(out[:, t + 1] - base[:, t + 1]).max() > 1e-6


def test_receptive_field_is_exact():
    dec = make_decoder()
    x = inputs(1, 40)
    base = np.asarray(dec(x))
    t = 35
    first_seen = t - dec.receptive_field  # the oldest sample logits at t see
    older = dict(x, codes=x["codes"].copy())
    older["codes"][:, : first_seen] = (older["codes"][:, : first_seen] + 3) % 16
    # Position-wise arithmetic: what the logits at t do not see leaves them
    # bit for bit the same; the oldest sample they see changes them.
    np.testing.assert_array_equal(np.asarray(dec(older))[:, t], base[:, t])
    edge = dict(x, codes=x["codes"].copy())
    edge["codes"][:, first_seen] = (edge["codes"][:, first_seen] + 3) % 16
    assert np.abs(np.asarray(dec(edge))[:, t] - base[:, t]).max() > 0


@pytest.mark.parametrize("time", [24, 22])
def test_stepped_equals_full_forward_pass(time):
    dec = make_decoder()
    x = inputs(2, time)
    full = np.asarray(dec(x))
    state = dec.initial_state(2, {"condition": x["condition"],
                                  "spatial_condition": x["spatial_condition"]})
    stepped = np.asarray(logits_with_cache(dec.step, state, x["codes"]))
    np.testing.assert_allclose(stepped, full, atol=1e-5)


def test_cached_sampling_equals_naive_sampling():
    dec = make_decoder(num_embeddings=16)
    x = inputs(3, 32, seed=1)
    cond = {"condition": x["condition"], "spatial_condition": x["spatial_condition"]}
    cached = np.asarray(dec.sample(3, condition=cond, seed=7))
    naive = np.asarray(dec.sample_naive(3, condition=cond, seed=7))
    assert cached.shape == (3, 32) and cached.dtype == np.int32
    np.testing.assert_array_equal(cached, naive)
    # A draw is a draw of the model: teacher-forcing the sample gives the
    # logits the sampler used (its log-probability is finite and varies by seed).
    other = np.asarray(dec.sample(3, condition=cond, seed=8))
    assert not np.array_equal(cached, other)


def test_naive_sampling_sees_the_start_as_call_does():
    # The naive sampler's window reaches before the first sample for the
    # first receptive_field - 1 samples. `call` pads every block's input
    # with zeros there; padding only the embedded input made the deeper
    # blocks see gate(bias + condition) instead, which with non-zero biases
    # (any trained decoder: the shipped one drew the same sample on 71% of
    # its first 128) gives other logits than `call` near the start.
    dec = make_decoder(num_embeddings=16)
    x = inputs(32, 24, seed=2)
    dec(x)
    rng = np.random.default_rng(0)
    for weight in dec.weights:
        if "bias" in weight.path:
            weight.assign(rng.normal(0.0, 1.5, weight.shape).astype("float32"))
    cond = {"condition": x["condition"], "spatial_condition": x["spatial_condition"]}
    # Greedy (temperature near 0): each sample is the argmax of the logits
    # the sampler computed; `call` teacher-forced on those samples must
    # give the same argmax everywhere, the first receptive field included.
    for sampler in (dec.sample, dec.sample_naive):
        greedy = np.asarray(sampler(32, condition=cond, seed=11, temperature=1e-6))
        logits = np.asarray(dec(dict(x, codes=greedy)))
        np.testing.assert_array_equal(greedy, logits.argmax(-1), err_msg=sampler.__name__)
    np.testing.assert_array_equal(
        np.asarray(dec.sample_naive(32, condition=cond, seed=5)),
        np.asarray(dec.sample(32, condition=cond, seed=5)))


def test_any_length_and_lengths_not_divisible_by_the_hop():
    dec = make_decoder()
    for time in (4, 9, 23, 50):
        x = inputs(1, time)
        assert np.asarray(dec(x)).shape == (1, time, 16)
    # The upsampled condition is cropped: the logits of 22 samples with 6
    # condition steps equal the first 22 of 24 samples with the same steps.
    x = inputs(1, 24)
    short = dict(x, codes=x["codes"][:, :22])
    np.testing.assert_allclose(np.asarray(dec(short)), np.asarray(dec(x))[:, :22],
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"ceil\(22 / 4\) = 6 steps"):
        dec(dict(short, spatial_condition=x["spatial_condition"][:, :5]))
    cond = {"condition": x["condition"], "spatial_condition": x["spatial_condition"]}
    assert tuple(dec.sample(1, condition=cond, seed=0, length=22).shape) == (1, 22)
    with pytest.raises(ValueError, match=r"`length` must be in \(20, 24\]"):
        dec.sample(1, condition=cond, length=20)


def test_speakers_by_name_and_saving(tmp_path):
    dec = make_decoder(speaker_names=["awb", "slt", "rms"])
    assert dec.speaker_index("slt") == 1 and dec.speaker_index("2") == 2
    with pytest.raises(ValueError, match="known speakers: awb, slt, rms"):
        dec.speaker_index("bob")
    x = inputs(2, 16)
    path = tmp_path / "dec.keras"
    dec.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.speaker_names == ("awb", "slt", "rms")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(dec(x)))


def test_speech_vqvae_pads_and_crops_unaligned_lengths(tmp_path):
    keras.utils.set_random_seed(0)
    model = speech_vqvae(num_speakers=2, num_hiddens=8, embedding_dim=4, num_embeddings=16,
                         num_downsamples=3, filters=8, dilation_cycle=2, num_cycles=1,
                         crop_length=64)
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal((4, 64, 1))).astype("float32")
    spk = np.array([0, 1, 0, 1], "int32")
    model.compile(optimizer="adam")
    hist = model.fit(x, spk, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    # 61 samples -> ceil(61 / 8) = 8 codes; teacher-forced logits for all 61.
    codes = model.encode(x[:1, :61])
    assert tuple(codes.shape) == (1, 8)
    assert tuple(model((x[:1, :61], spk[:1])).shape) == (1, 61, 256)
    audio = np.asarray(model.decode(codes, condition=spk[:1], seed=0))
    assert audio.shape == (1, 64, 1) and np.abs(audio).max() <= 1.0
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        np.asarray(loaded.decode(codes, condition=spk[:1], seed=0)), audio)
