import keras
import numpy as np
import pytest

from vq_zoo.training import NaNGuard


def data_with_nan_in_batch(bad_batch, batches=6, batch_size=4):
    x = np.random.default_rng(0).uniform(size=(batches * batch_size, 3)).astype("float32")
    y = np.zeros((batches * batch_size, 1), "float32")
    x[bad_batch * batch_size] = np.nan
    return x, y


def linear_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


def test_raises_naming_metric_epoch_and_batch():
    # The weights turn NaN before batch 2 (0-based) of epoch 1 (0-based).
    x, y = data_with_nan_in_batch(0)
    x = np.nan_to_num(x)
    model = linear_model()
    guard = NaNGuard()
    epoch = []
    seen = []

    def poison(batch, logs):
        if epoch[-1] == 1 and batch == 2:
            model.layers[0].kernel.assign(np.full((3, 1), np.nan, "float32"))

    callbacks = [
        keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda e, logs: epoch.append(e),
            on_train_batch_begin=poison),
        guard,
        keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: seen.append((epoch[-1], batch))),
    ]
    with pytest.raises(FloatingPointError,
                       match=r"metric `loss` is nan at batch 3 of epoch 2;"):
        model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                  callbacks=callbacks)
    assert (guard.stopped_epoch, guard.stopped_batch) == (1, 2)
    # Training stopped at once: later callbacks never saw the bad batch.
    assert seen[-1] == (1, 1)


def test_monitor_limits_the_checked_metrics():
    guard = NaNGuard(monitor=["mae"])
    x, y = data_with_nan_in_batch(1)
    with pytest.raises(FloatingPointError, match="metric `mae` is nan at batch 2 of epoch 1"):
        linear_model().fit(x, y, batch_size=4, shuffle=False, verbose=0, callbacks=[guard])


def test_stop_without_raising(capsys):
    x, y = data_with_nan_in_batch(2)
    model = linear_model()
    guard = NaNGuard(raise_error=False)
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                        callbacks=[guard])
    # fit returned after the bad batch's epoch, not after 3 epochs.
    assert len(history.history["loss"]) == 1
    assert "metric `loss` is nan at batch 3 of epoch 1" in capsys.readouterr().out
    assert guard.message.startswith("NaNGuard: metric `loss` is nan")


def test_validation_metric_checked_at_epoch_end():
    x, y = data_with_nan_in_batch(0)
    clean_x = np.nan_to_num(x)
    with pytest.raises(FloatingPointError, match="metric `val_loss` is nan at the end of epoch 1"):
        linear_model().fit(clean_x, y, batch_size=4, verbose=0, validation_data=(x, y),
                           callbacks=[NaNGuard()])


def test_finite_training_is_untouched():
    x, y = data_with_nan_in_batch(0)
    history = linear_model().fit(np.nan_to_num(x), y, batch_size=4, epochs=2, verbose=0,
                                 callbacks=[NaNGuard()])
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize("monitor", [[], [3], ""])
def test_bad_monitor(monitor):
    with pytest.raises(ValueError, match="`monitor` must be None or a non-empty list"):
        NaNGuard(monitor=monitor)


def test_plain_keras_model_message_says_the_step_was_applied():
    x, y = data_with_nan_in_batch(1)
    with pytest.raises(FloatingPointError, match="does not skip non-finite steps"):
        linear_model().fit(x, y, batch_size=4, shuffle=False, verbose=0,
                           callbacks=[NaNGuard()])


def test_vqvae_stops_at_the_nan_batch_with_the_last_good_model_in_memory():
    """An EMA VQ-VAE fit on data whose batch 3 holds a NaN: NaNGuard raises
    there, and every weight, the codebook, the EMA statistics and the
    optimizer state equal, bit for bit, a copy trained on batches 1-2 only."""
    from vq_zoo.models.vqvae.vqvae import VQVAE

    def make():
        model = VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                                  num_residual_hiddens=8, embedding_dim=8,
                                  num_embeddings=32, ema=True)
        model.build((None, 8, 8, 3))
        return model

    x = np.random.default_rng(0).uniform(size=(40, 8, 8, 3)).astype("float32")
    x[2 * 8 + 5, 3, 4, 1] = np.nan  # batch 3 of 5 (batches of 8)
    init = make().get_weights()

    def fresh():
        model = make()
        model.set_weights(init)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model

    guarded, guard = fresh(), NaNGuard()
    with pytest.raises(FloatingPointError, match=(
            r"metric `loss` is nan at batch 3 of epoch 1; .*That step was not applied")):
        guarded.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0,
                    callbacks=[guard])
    assert (guard.stopped_epoch, guard.stopped_batch) == (0, 2)

    reference = fresh()
    reference.fit(x[:16], batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert int(guarded.optimizer.iterations.numpy()) == 2
    pairs = list(zip(guarded.weights, reference.weights))
    pairs += list(zip(guarded.optimizer.variables, reference.optimizer.variables))
    names = {v.name for v, _ in pairs}
    assert {"codebook", "ema_cluster_size_hidden", "ema_dw_hidden", "ema_count"} <= names
    for a, b in pairs:  # same architecture: the same variables in the same order
        assert a.shape == b.shape
        assert np.asarray(a.numpy()).tobytes() == np.asarray(b.numpy()).tobytes(), a.path
    # The two steps did move the state, so the equality is not trivial.
    codebook = guarded.quantizer.codebook.numpy()
    assert np.all(np.isfinite(codebook))
    index = [w is guarded.quantizer.codebook for w in guarded.weights].index(True)
    assert np.abs(codebook - init[index]).max() > 0


@pytest.mark.parametrize("bad, named", [
    # Several metrics non-finite at once: `loss` is named whatever sorts
    # before it (which of them a host's arithmetic turns non-finite first
    # must not change the message).
    (("aaa", "codebook_loss", "commitment_loss", "loss", "val_loss"), "loss"),
    (("commitment_loss", "val_loss", "val_aaa"), "val_loss"),
    (("perplexity", "commitment_loss"), "commitment_loss"),
])
def test_loss_is_named_before_the_other_non_finite_metrics(bad, named):
    guard = NaNGuard(raise_error=False)
    guard.set_model(linear_model())
    logs = {name: 1.0 for name in
            ("aaa", "codebook_loss", "commitment_loss", "loss", "perplexity",
             "val_aaa", "val_loss")}
    for i, name in enumerate(bad):
        logs[name] = float("nan") if i % 2 else float("inf")
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(4, logs)
    assert guard.message.startswith(f"NaNGuard: metric `{named}` is ")
    assert (guard.stopped_epoch, guard.stopped_batch) == (0, 4)
