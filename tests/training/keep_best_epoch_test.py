"""KeepBestEpoch: the fit ends with the weights of its lowest validation
epoch (checked against weights recorded independently at every epoch), also
when the fit is interrupted and resumed."""

import keras
import numpy as np

from vq_zoo.training.keep_best_epoch import KeepBestEpoch


def _model():
    # One weight, from 0 towards the training slope 2 by plain gradient
    # descent; the validation slope is 1, so validation is best mid-way.
    model = keras.Sequential([keras.Input((1,)),
                              keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(0.02), loss="mse")
    return model


X = np.linspace(-1, 1, 64, dtype="float32")[:, None]
TRAIN, VALIDATION = (X, 2 * X), (X, X)


class Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(float(self.model.get_weights()[0][0, 0]))


def test_the_fit_ends_with_its_best_validation_epoch(tmp_path):
    model, record = _model(), Record()
    keep = KeepBestEpoch(tmp_path / "best")
    history = model.fit(*TRAIN, validation_data=VALIDATION, epochs=12, batch_size=8,
                        callbacks=[record, keep], verbose=0)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert 0 < best < len(val) - 1  # the check means something: not the last epoch
    assert keep.best_epoch == best + 1
    assert float(model.get_weights()[0][0, 0]) == record.weights[best]
    # The weight the model ends with is the one nearest the validation slope.
    assert abs(record.weights[best] - 1) == min(abs(w - 1) for w in record.weights)


def test_a_resumed_fit_keeps_the_best_epoch_of_both_parts(tmp_path):
    record = Record()
    model = _model()
    model.fit(*TRAIN, validation_data=VALIDATION, epochs=12, batch_size=8,
              callbacks=[record], verbose=0)
    best = int(np.argmin([abs(w - 1) for w in record.weights]))
    # The same run in two fits: the first stops after the best epoch, the
    # second (a fresh callback object, as after a restart) goes on.
    model, record = _model(), Record()
    model.fit(*TRAIN, validation_data=VALIDATION, epochs=best + 2, batch_size=8,
              callbacks=[record, KeepBestEpoch(tmp_path / "best")], verbose=0)
    model.set_weights([np.array([[record.weights[-1]]], "float32")])  # where it stopped
    keep = KeepBestEpoch(tmp_path / "best")
    model.fit(*TRAIN, validation_data=VALIDATION, epochs=12, initial_epoch=best + 2,
              batch_size=8, callbacks=[record, keep], verbose=0)
    assert keep.best_epoch == best + 1
    assert float(model.get_weights()[0][0, 0]) == record.weights[best]


def test_a_fit_without_the_monitored_log_is_refused(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="monitors 'val_loss'.*pass `validation_data`"):
        _model().fit(*TRAIN, epochs=1, verbose=0, callbacks=[KeepBestEpoch(tmp_path)])
