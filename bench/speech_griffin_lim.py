"""Griffin-Lim settings on a trained spectrogram VQ-VAE (the issue-19
pilot, as run): corpus WER (PocketSphinx) of the reconstructions of the
first 3 test sentences read by the 4 flite voices (12 utterances), for
magnitude powers 1.0 / 1.5 and 32 / 64 iterations.

    SPEECH_CORPUS=/tmp/s19/corpus96 python bench/speech_griffin_lim.py /tmp/s19/p2.keras
"""
import os
import numpy as np, json, sys, keras
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
from vq_zoo.data import speech_corpus as sc
from vq_zoo.metrics.speech_intelligibility import Recognizer, word_edits
m = keras.models.load_model(sys.argv[1])
te = sc.load_split(os.environ.get("SPEECH_CORPUS", "/tmp/s19/corpus96"), "test"); texts = sc.sentence_texts(os.environ.get("SPEECH_CORPUS", "/tmp/s19/corpus96"), te[2])
R = Recognizer()
sel = [i for i in range(len(te[0])) if te[1][i] < 4 and te[2][i] in sorted(set(te[2]))[:3]]
print(len(sel))
for power in (1.0, 1.5):
  for iters in (32, 64):
    m.decoder.magnitude_power = power; m.decoder.griffin_lim_iters = iters
    E = W = 0
    for i in sel:
        x = te[0][i]; xp = np.pad(x, (0, -x.size % 320))[None, :, None]
        r = m.decode(m.encode(xp), condition=[te[1][i]])[0, :x.size, 0]
        e, w = word_edits(texts[i], R.transcribe(r, 16000)); E += e; W += w
    print(power, iters, E / W, flush=True)
