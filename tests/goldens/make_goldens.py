"""Writes the golden presets and their expected outputs. Run by hand, never
by the tests, and only when a format change is intended:

    python tests/goldens/make_goldens.py

It trains, for two steps each on fixed data, a tiny `VQVAE` (EMA quantiser,
so the EMA statistics are not their initial values) and a tiny
`GatedPixelCNNPrior` on its codes, saves both with `save_to_preset` into
`tests/goldens/vqvae_tiny/` and `tests/goldens/gated_pixelcnn_prior_tiny/`,
and writes into `tests/goldens/expected/`:

    inputs.npy                  fixed input images, (2, 8, 8, 3) float32 (2x2 colour blocks)
    vqvae_reconstructions.npy   model(inputs)
    vqvae_codes.npy             model.encode(inputs), int32 (2, 4, 4)
    vqvae_decoded.npy           model.decode(codes)
    vqvae_weights.npz           every weight by its variable path
    prior_logits.npy            prior(codes)
    prior_log_prob.npy          prior.log_prob(codes)
    prior_sample.npy            prior.sample(3, seed=SAMPLE_SEED)
    prior_weights.npz           every weight by its variable path
"""

import os
import pathlib
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from vq_zoo import GatedPixelCNNPrior  # noqa: E402
from vq_zoo import VQVAE  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
VQVAE_DIR = HERE / "vqvae_tiny"
PRIOR_DIR = HERE / "gated_pixelcnn_prior_tiny"
EXPECTED = HERE / "expected"
SAMPLE_SEED = 7
SAMPLE_NUM = 3


def weights_by_path(model):
    """`{path: value}`, paths without the model's own name (whether a path
    starts with it depends on the scope the model was built in)."""
    prefix = model.name + "/"
    return {
        w.path[len(prefix):] if w.path.startswith(prefix) else w.path:
        keras.ops.convert_to_numpy(w)
        for w in model.weights
    }


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)

    def blocks(n):
        # 2x2 blocks of strong random colours: the codes vary (9 of 16 used
        # on the inputs), so a wrong codebook or encoder shows in them.
        colours = rng.random((n, 4, 4, 3), dtype=np.float32) * 4 - 2
        return np.repeat(np.repeat(colours, 2, axis=1), 2, axis=2)

    train = blocks(16)
    inputs = blocks(2)

    vqvae = VQVAE.image_model(
        num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
        embedding_dim=4, num_embeddings=16, num_downsamples=1, ema=True,
        name="vqvae",
    )
    vqvae.build((None, 8, 8, 3))
    vqvae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vqvae.fit(train, batch_size=8, epochs=1, shuffle=False, verbose=0)
    ema_count = float(keras.ops.convert_to_numpy(vqvae.quantizer.weights[-1]))
    assert ema_count > 0, "the EMA state should have moved"

    codes = np.asarray(vqvae.encode(train), np.int32)
    prior = GatedPixelCNNPrior(
        num_embeddings=16, shape=(4, 4), filters=4, num_layers=2, name="prior"
    )
    prior.compile(optimizer=keras.optimizers.Adam(1e-2))
    prior.fit(codes, batch_size=8, epochs=1, shuffle=False, verbose=0)

    for directory in (VQVAE_DIR, PRIOR_DIR):
        shutil.rmtree(directory, ignore_errors=True)
    common = {
        "dataset": "16 images 8x8x3 of random 2x2 colour blocks in [-2, 2], numpy default_rng(0)",
        "recipe": "tests/goldens/make_goldens.py",
        "command": "python tests/goldens/make_goldens.py",
    }
    vqvae.save_to_preset(VQVAE_DIR, dict(common, description="golden tiny VQVAE"))
    prior.save_to_preset(
        PRIOR_DIR, dict(common, description="golden tiny GatedPixelCNNPrior")
    )

    EXPECTED.mkdir(exist_ok=True)
    golden_codes = np.asarray(vqvae.encode(inputs), np.int32)
    arrays = {
        "inputs": inputs,
        "vqvae_reconstructions": np.asarray(vqvae(inputs, training=False)),
        "vqvae_codes": golden_codes,
        "vqvae_decoded": np.asarray(vqvae.decode(golden_codes)),
        "prior_logits": np.asarray(prior(golden_codes, training=False)),
        "prior_log_prob": np.asarray(prior.log_prob(golden_codes)),
        "prior_sample": np.asarray(prior.sample(SAMPLE_NUM, seed=SAMPLE_SEED), np.int32),
    }
    for name, array in arrays.items():
        np.save(EXPECTED / f"{name}.npy", array, allow_pickle=False)
    np.savez(EXPECTED / "vqvae_weights.npz", **weights_by_path(vqvae))
    np.savez(EXPECTED / "prior_weights.npz", **weights_by_path(prior))
    print(f"wrote {VQVAE_DIR}, {PRIOR_DIR}, {EXPECTED} (EMA count {ema_count:.3f})")


if __name__ == "__main__":
    main()
