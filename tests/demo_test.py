import json
import math

import numpy as np
import pytest
import tensorflow as tf
import keras

from vq_zoo import demo


def test_main_job_end_to_end(tmp_path):
    out = tmp_path / "run"
    args = ["--out", str(out), "--epochs", "1", "--train-patches", "128",
            "--test-patches", "64", "--batch-size", "32", "--num-embeddings", "64"]
    metrics = demo.main(args)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert metrics["test_psnr_db"] == pytest.approx(10 * math.log10(1 / metrics["test_mse"]))
    assert metrics["codes_shape"] == [8, 8]
    png = tf.io.decode_png((out / "reconstructions.png").read_bytes()).numpy()
    assert png.shape == (8 * 33 + 1, 8 * 33 + 1, 3)
    model = keras.models.load_model(out / "vqvae.keras")
    assert model.quantizer.num_embeddings == 64
    assert list((out / "logs").rglob("events.out.tfevents*"))
    np.testing.assert_allclose(
        model.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape, (1, 32, 32, 3))


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        demo.parse_args(["--epochs", "0"])
