"""The shared training step (`vq_zoo.models.task.Task`), checked through the
models that use it."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior
from vq_zoo.models.vqvae.vqvae import VQVAE

HERE = os.path.dirname(os.path.abspath(__file__))


def small_vqvae(ema=False):
    model = VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                              num_residual_hiddens=8, embedding_dim=8,
                              num_embeddings=32, ema=ema)
    model.build((None, 8, 8, 3))
    return model


def small_prior():
    return GatedPixelCNNPrior(num_embeddings=8, shape=(4, 4), filters=8, num_layers=2)


@pytest.mark.parametrize("make", [small_vqvae, small_prior])
def test_compile_refuses_loss_and_metrics(make):
    model = make()
    with pytest.raises(ValueError, match=r"computes its own loss terms .*loss=\.\.\."):
        model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"logs its own metrics .*metrics=\.\.\."):
        model.compile(optimizer="adam", metrics=["mae"])
    with pytest.raises(ValueError, match="loss_weights"):
        model.compile(optimizer="adam", loss_weights=[1.0])
    model.compile(optimizer="adam")  # still usable


def test_non_finite_step_is_not_applied():
    """A batch with one NaN leaves every weight and the optimizer state as
    they were: the run equals one without that batch, bit for bit."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(24, 8, 8, 3)).astype("float32")
    bad = x.copy()
    bad[9, 1, 2, 0] = np.nan
    init = small_vqvae().get_weights()

    def fit(data):
        model = small_vqvae()
        model.set_weights(init)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        hist = model.fit(data, batch_size=8, epochs=1, verbose=0, shuffle=False)
        return model, hist.history

    with_bad, logs = fit(bad)
    without, _ = fit(np.concatenate([x[:8], x[16:]]))
    assert logs["skipped_updates"] == [1.0]
    assert np.isnan(logs["loss"][0])  # what NaNGuard sees
    assert int(with_bad.optimizer.iterations.numpy()) == 2
    for a, b in zip(with_bad.get_weights() + [v.numpy() for v in with_bad.optimizer.variables],
                    without.get_weights() + [v.numpy() for v in without.optimizer.variables]):
        np.testing.assert_array_equal(a, b)


def test_non_finite_on_one_replica_skips_on_both():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(HERE)), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, os.path.join(HERE, "task_worker.py")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["skipped_updates"] == 1.0
    assert report["iterations_two"] == report["iterations_one"] == 2
    assert report["replicas_equal"]
    assert report["finite"]
    # Equal to one device trained without the bad batch (up to the
    # all-reduce's summation order).
    assert report["max_diff_vs_one_device_without_bad_batch"] < 1e-5


def test_prior_loss_is_the_cross_entropy():
    """The prior's logged loss is the mean K-way cross-entropy of its logits
    (NumPy), in nats and bits."""
    prior = small_prior()
    prior.compile(optimizer="adam")
    codes = np.random.default_rng(1).integers(0, 8, size=(6, 4, 4)).astype("int32")
    # Batches of 4 and 2: the epoch's figure is the mean over the 6 maps.
    logs = prior.evaluate(codes, batch_size=4, verbose=0, return_dict=True)
    logits = np.asarray(prior.predict(codes, verbose=0), dtype="float64")
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, codes[..., None], -1).mean()
    assert logs["loss"] == pytest.approx(nll, rel=1e-5)
    assert logs["bits_per_code"] == pytest.approx(nll / np.log(2), rel=1e-5)
    assert "skipped_updates" not in logs  # evaluation skips no update


def test_a_built_model_traces_its_training_step_once_per_fit():
    """The optimizer is built before the step is traced: Keras' TensorFlow
    trainer (no strategy) builds it inside the first trace, and tf.function
    then traces the whole step a second time. The weights after the fit
    equal those of Keras' own path (the same variables, the same start)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(16, 8, 8, 3)).astype("float32")
    init = small_vqvae().get_weights()

    def fit(keras_path):
        traces = []
        model = small_vqvae()
        model.set_weights(init)
        original = type(model).train_step

        def counted(data):
            traces.append(1)
            return original(model, data)

        model.train_step = counted
        if keras_path:
            model.make_train_function = lambda force=False: keras.Model.make_train_function(
                model, force)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(x, batch_size=8, epochs=2, verbose=0, shuffle=False)
        return len(traces), model.get_weights()

    ours, ours_weights = fit(keras_path=False)
    theirs, theirs_weights = fit(keras_path=True)
    assert theirs == 2 and ours == 1
    for a, b in zip(ours_weights, theirs_weights):
        np.testing.assert_array_equal(a, b)
