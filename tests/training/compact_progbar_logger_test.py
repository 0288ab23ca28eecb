import keras
import numpy as np

from vq_zoo.training import CompactProgbarLogger


def drive(logger, epochs):
    """Feeds `logger` the logs of `epochs` (a list of lists of batch logs)
    as `fit` would, with a progress bar on."""
    logger.set_params({"verbose": 1, "epochs": len(epochs), "steps": len(epochs[0])})
    logger.on_train_begin()
    for e, batches in enumerate(epochs):
        logger.on_epoch_begin(e)
        for b, logs in enumerate(batches):
            logger.on_train_batch_end(b, dict(logs))
        logger.on_epoch_end(e, dict(batches[-1]))
    logger.on_train_end()


def test_metrics_zero_so_far_are_hidden_until_they_are_not(capsys):
    zero = {"loss": 0.5, "never": 0.0, "later": 0.0}
    drive(CompactProgbarLogger(), [[zero, zero], [zero, dict(zero, later=3.0)]])
    out = capsys.readouterr().out
    epoch1, epoch2 = out.split("Epoch 2/2")
    assert "loss: 0.5" in epoch1 and "never" not in out
    assert "later" not in epoch1 and "later: 3" in epoch2


def test_in_fit_the_bar_hides_an_all_zero_metric_that_the_logs_keep(capsys):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    always_zero = keras.metrics.MeanMetricWrapper(
        lambda y, p: keras.ops.zeros_like(p), name="always_zero")
    model.compile(optimizer="sgd", loss="mse", metrics=[always_zero])
    x = np.ones((8, 3), "float32")
    history = model.fit(x, np.zeros((8, 1), "float32"), batch_size=4, epochs=1,
                        verbose=1, callbacks=[CompactProgbarLogger()])
    out = capsys.readouterr().out
    assert "loss:" in out and "always_zero" not in out
    assert history.history["always_zero"] == [0.0]
