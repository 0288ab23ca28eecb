import re
import warnings

import keras
import numpy as np
import pytest

from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.training.codebook_health import CodebookCollapseWarning, CodebookHealth


def model(num_embeddings):
    m = VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                          num_residual_hiddens=8, embedding_dim=8,
                          num_embeddings=num_embeddings)
    m.build((None, 8, 8, 3))
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    return m


def collapse_warnings(m, x, history=None, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hist = m.fit(x, batch_size=8, epochs=3, verbose=0, **kwargs)
    if history is not None:
        history.update(hist.history)
    return [w for w in caught if issubclass(w.category, CodebookCollapseWarning)]


def test_collapsed_codebook_warns_once_with_the_fix():
    # Constant images: every vector is the same, so one code of 256 is used.
    x = np.full((16, 8, 8, 3), 0.5, "float32")
    m = model(256)
    history = {}
    caught = collapse_warnings(m, x, history)
    assert len(caught) == 1  # three collapsed epochs, one warning
    message = str(caught[0].message)
    assert re.search(r"only (\d+\.\d)% of the 256 codes \(codebook_usage\) were used in epoch 1", message)
    assert "dead_code_threshold" in message and "kmeans_init" in message
    # It reports the epoch's logged usage.
    reported = float(re.search(r"only (\d+\.\d)%", message).group(1))
    assert reported == pytest.approx(100 * history["codebook_usage"][0], abs=0.05)


def test_healthy_codebook_and_custom_threshold():
    x = np.random.default_rng(0).uniform(size=(32, 8, 8, 3)).astype("float32")
    assert collapse_warnings(model(4), x) == []  # a few codes, all used
    # The user's own instance replaces the default one: its threshold
    # decides (it warns exactly when an epoch's logged usage is below it) ...
    history, health = {}, CodebookHealth(0.999)
    caught = collapse_warnings(model(4), x, history, callbacks=[health])
    below = min(history["codebook_usage"]) < 0.999
    assert len(caught) == int(below) and health.warned == below, history
    # ... and a collapse that both would see warns once, from the user's.
    constant = np.full((16, 8, 8, 3), 0.5, "float32")
    health = CodebookHealth(0.5)
    assert len(collapse_warnings(model(256), constant, callbacks=[health])) == 1
    assert health.warned
    with pytest.raises(ValueError, match="min_usage"):
        CodebookHealth(1.5)
