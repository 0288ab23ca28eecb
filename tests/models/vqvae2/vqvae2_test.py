import keras
import numpy as np
import pytest

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from vq_zoo.models.vqvae2.vqvae2 import VQVAE2

RNG = np.random.default_rng(0)
X = RNG.uniform(size=(8, 32, 32, 3)).astype("float32")
SMALL = dict(num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
             embedding_dim=8)


def small(**kwargs):
    model = VQVAE2(**{**SMALL, "num_embeddings": 32, **kwargs})
    model.build((None, 32, 32, 3))
    return model


def test_paper_shapes_at_256():
    """Bottom codes 64x64 from a stride-4 encoder, top 32x32 from a further
    stride 2 (the paper's ImageNet model; small widths, same strides)."""
    model = VQVAE2(**SMALL, num_embeddings=512)
    x = np.zeros((1, 256, 256, 3), "float32")
    codes = model.encode(x)
    assert list(codes) == ["top", "bottom"]
    assert tuple(codes["top"].shape) == (1, 32, 32)
    assert tuple(codes["bottom"].shape) == (1, 64, 64)
    assert [q.num_embeddings for q in model.quantizers] == [512, 512]


def test_three_levels_shapes_and_metrics():
    model = small(num_levels=3, num_embeddings=[8, 16, 32])
    assert model.level_names == ("top", "middle", "bottom")
    codes = model.encode(X[:2])
    assert {k: tuple(v.shape) for k, v in codes.items()} == {
        "top": (2, 2, 2), "middle": (2, 4, 4), "bottom": (2, 8, 8)}
    assert int(np.asarray(codes["top"]).max()) < 8
    model.compile(optimizer="adam")
    logs = model.evaluate(X, batch_size=8, verbose=0, return_dict=True)
    assert {f"perplexity_{n}" for n in model.level_names} <= set(logs)
    assert {f"codebook_usage_{n}" for n in model.level_names} <= set(logs)


def test_metrics_per_level_against_numpy():
    model = small()
    model.compile(optimizer="adam")
    logs = model.evaluate(X, batch_size=8, verbose=0, return_dict=True)
    codes = {k: np.asarray(v) for k, v in model.encode(X).items()}
    for name in ("top", "bottom"):
        p = np.bincount(codes[name].ravel(), minlength=32) / codes[name].size
        assert logs[f"perplexity_{name}"] == pytest.approx(
            np.exp(-(p * np.log(p + 1e-10)).sum()), rel=1e-4)
        assert logs[f"codebook_usage_{name}"] == pytest.approx(
            len(np.unique(codes[name])) / 32)
    recon = model.predict(X, verbose=0)
    assert logs["reconstruction_loss"] == pytest.approx(np.mean((recon - X) ** 2), rel=1e-4)


def test_decode_all_levels_and_top_only():
    model = small()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(X, batch_size=4, epochs=2, verbose=0)
    codes = model.encode(X[:4])
    # decode(encode(x)) is the reconstruction (two independent paths).
    np.testing.assert_allclose(model.decode(codes), model.predict(X[:4], verbose=0), atol=1e-5)
    top_only = np.asarray(model.decode({"top": codes["top"]}))
    assert top_only.shape == (4, 32, 32, 3)
    assert not np.allclose(top_only, np.asarray(model.decode(codes)))
    # The top-only decoding does not depend on any bottom codes, and equals
    # a decoding whose bottom latents are all the codebook's mean vector.
    mean = np.asarray(model.level_quantizers[0].codebook).mean(0)
    latents = [np.broadcast_to(mean, (4, 8, 8, 8)),
               np.asarray(model.quantizers[0].lookup(codes["top"]))]
    np.testing.assert_allclose(top_only, np.asarray(model.decoder_params(latents)), atol=1e-6)
    with pytest.raises(ValueError, match="the top at least"):
        model.decode({"bottom": codes["bottom"]})


def test_bottom_codes_depend_on_the_top_level():
    """`h_bottom = E_bottom(x, e_top)`: changing only the top quantizer's
    codebook changes the bottom codes."""
    model = small()
    before = np.asarray(model.encode(X)["bottom"])
    top_q = model.quantizers[0]
    top_q.codebook.assign(np.asarray(top_q.codebook) + 3.0)
    assert not np.array_equal(before, np.asarray(model.encode(X)["bottom"]))


def test_round_trip_config_keras_and_preset(tmp_path):
    model = small(num_embeddings=[16, 32], quantizer_kwargs={"dead_code_threshold": 0.1})
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(X, batch_size=4, epochs=1, verbose=0)
    run_serialization_test(model)
    run_model_saving_test(model, X[:2], tmp_path, compare=lambda m, x: m.encode(x))
    model.save_to_preset(str(tmp_path / "preset"))
    restored = VQVAE2.from_preset(str(tmp_path / "preset"))
    for k, v in model.encode(X[:2]).items():
        np.testing.assert_array_equal(np.asarray(v), np.asarray(restored.encode(X[:2])[k]))


def test_mixed_bfloat16_step():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = small()
        model.compile(optimizer="adam")
        hist = model.fit(X, batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(hist.history["loss"]).all()
        assert all(q.codebook.dtype == "float32" for q in model.quantizers)
    finally:
        keras.config.set_dtype_policy("float32")


def test_bad_inputs():
    model = small()
    with pytest.raises(ValueError, match="floating-point images"):
        model.encode((X * 255).astype("uint8"))
    with pytest.raises(ValueError, match="divisible by 8"):
        model.encode(np.zeros((1, 36, 36, 3), "float32"))
    with pytest.raises(ValueError, match="one size per level"):
        VQVAE2(num_embeddings=[8, 8, 8])
    with pytest.raises(ValueError, match="num_levels"):
        VQVAE2(num_levels=1)
    with pytest.raises(ValueError, match="num_levels"):
        VQVAE2(num_levels=True)


def test_calling_an_unbuilt_model_builds_it():
    called = VQVAE2(**SMALL, num_embeddings=32)
    out = np.asarray(called(X[:2]))
    assert called.built and out.shape == (2, 32, 32, 3)
    built = small()
    built.set_weights(called.get_weights())
    np.testing.assert_allclose(np.asarray(built(X[:2])), out, atol=1e-6)
