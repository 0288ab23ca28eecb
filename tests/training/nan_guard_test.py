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
