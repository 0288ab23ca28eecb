"""The design pilots of the `small` speech config (issue 19), kept as they
were run: a `SpectrogramVQVAE` trained for `--steps` on random 1.28 s crops
of an offline corpus, then measured on the first `--nsent` test sentences
read by all 8 voices with inline versions of the instruments (they predate
`vq_zoo/metrics/`: PocketSphinx WER per voice, an MFCC-statistics speaker
classifier on whole utterances without silence gating, code-histogram and
MFCC speaker probes on 1 s chunks).

    python -m vq_zoo.data.speech_corpus --out /tmp/s19/corpus96 --sentences 96
    python bench/speech_pilots.py --steps 1500 --name p2 --nsent 2            # no adversary
    python bench/speech_pilots.py --steps 1500 --name p4 --nsent 2 --adv 0.5  # confusion adversary

Figures: recipes/vctk/README.md ("What was tried"). Writes `/tmp/s19/<name>.keras` and
examples to `/tmp/s19/<name>_wav/`.
"""
import sys, time, os, json, argparse
import numpy as np
p = argparse.ArgumentParser()
p.add_argument("--K", type=int, default=64); p.add_argument("--fpc", type=int, default=2)
p.add_argument("--jitter", type=float, default=0.12); p.add_argument("--norm", default="utterance")
p.add_argument("--filters", type=int, default=128); p.add_argument("--blocks", type=int, default=8)
p.add_argument("--hid", type=int, default=128); p.add_argument("--D", type=int, default=32)
p.add_argument("--steps", type=int, default=600); p.add_argument("--bs", type=int, default=16)
p.add_argument("--crop", type=int, default=64); p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--power", type=float, default=1.0); p.add_argument("--name", default="p")
p.add_argument("--nsent", type=int, default=4); p.add_argument("--adv", type=float, default=0.0); p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(a.threads); tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
from vq_zoo.data import speech_corpus as sc
from vq_zoo.models.spectrogram import SpectrogramVQVAE
from vq_zoo.utils.audio import write_wav
C = os.environ.get("SPEECH_CORPUS", "/tmp/s19/corpus96")
tr = sc.load_split(C, "train"); te = sc.load_split(C, "test")
man = json.load(open(C + "/manifest.json")); texts = {s["id"]: s["text"] for s in man["sentences"]}
hop = 160 * a.fpc; L = a.crop * hop
m = SpectrogramVQVAE.speech_model(8, num_hiddens=a.hid, embedding_dim=a.D, num_embeddings=a.K, frames_per_code=a.fpc,
    normalize=a.norm, filters=a.filters, num_blocks=a.blocks, jitter=a.jitter, magnitude_power=a.power, crop_length=L,
    quantizer_kwargs=dict(dead_code_threshold=0.01, seed=0), seed=0, adversary_weight=a.adv, speaker_names=man["speakers"])
m.compile(optimizer=keras.optimizers.Adam(a.lr))
print("params", m.count_params())
rng = np.random.default_rng(0)
def gen():
    while True:
        xs = np.zeros((a.bs, L, 1), np.float32); ys = np.zeros(a.bs, np.int32)
        for i in range(a.bs):
            u = rng.integers(len(tr[0])); au = tr[0][u]; st = rng.integers(0, max(1, au.size - L + 1))
            pc = au[st:st + L]; xs[i, :pc.size, 0] = pc; ys[i] = tr[1][u]
        yield xs, ys
ds = tf.data.Dataset.from_generator(gen, output_signature=(tf.TensorSpec((a.bs, L, 1)), tf.TensorSpec((a.bs,), tf.int32))).prefetch(2)
t0 = time.time()
h = m.fit(ds, epochs=max(1, a.steps // 100), steps_per_epoch=min(100, a.steps), verbose=2)
tt = time.time() - t0; print(f"train {tt:.0f}s  {tt / a.steps:.3f}s/step")
m.save(f"/tmp/s19/{a.name}.keras")
# eval
from pocketsphinx import Decoder
dec = Decoder(samprate=16000, logfn="/dev/null")
def rec(x):
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    dec.start_utt(); dec.process_raw(pcm, full_utt=True); dec.end_utt(); hh = dec.hyp(); return hh.hypstr if hh else ""
def ed(r, h):
    r = r.lower().replace(".", "").split(); h = h.split(); d = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        nd = d.copy(); nd[0] = i
        for j in range(1, len(h) + 1): nd[j] = min(d[j] + 1, nd[j - 1] + 1, d[j - 1] + (r[i - 1] != h[j - 1]))
        d = nd
    return d[-1], len(r)
sents = sorted(set(te[2]))[:a.nsent]
res = {"orig": {}, "recon": {}, "conv": {}}
os.makedirs(f"/tmp/s19/{a.name}_wav", exist_ok=True)
recs, convs, srcs, tgts = [], [], [], []
t0 = time.time(); audio_s = 0
for x, s, sid in zip(*te):
    if sid not in sents: continue
    xp = np.pad(x, (0, -x.size % hop))[None, :, None]
    codes = m.encode(xp)
    t = (s + 4) % 8
    r = m.decode(codes, condition=[s])[0, :x.size, 0]; c = m.decode(codes, condition=[t])[0, :x.size, 0]
    audio_s += 2 * x.size / 16000
    recs.append(r); convs.append(c); srcs.append(s); tgts.append(t)
    ref = texts[int(sid)]
    for k, au in (("orig", x), ("recon", r), ("conv", c)):
        e, n = ed(ref, rec(au)); v = res[k].setdefault(man["speakers"][s], [0, 0]); v[0] += e; v[1] += n
    if sid == sents[0]:
        write_wav(f"/tmp/s19/{a.name}_wav/{man['speakers'][s]}_orig.wav", x, 16000)
        write_wav(f"/tmp/s19/{a.name}_wav/{man['speakers'][s]}_recon.wav", r, 16000)
        write_wav(f"/tmp/s19/{a.name}_wav/{man['speakers'][s]}_conv_to_{man['speakers'][t]}.wav", c, 16000)
print(f"eval decode+asr {time.time() - t0:.0f}s")
for k in res:
    tot = np.sum([v for v in res[k].values()], axis=0)
    print(k, f"WER {tot[0] / tot[1]:.3f}", {sp: round(v[0] / v[1], 2) for sp, v in res[k].items()})
# speaker classifier: MFCC stats
from scipy.fft import dct
from vq_zoo.utils.audio_features import mel_filterbank
FB = mel_filterbank(40, 512, 16000)
def feat(x):
    x = np.pad(x, (0, max(0, 512 - x.size)))
    n = 1 + (x.size - 512) // 160; idx = np.arange(512)[None] + 160 * np.arange(n)[:, None]
    S = np.abs(np.fft.rfft(x[idx] * np.hanning(512), axis=1)) ** 2
    mf = dct(np.log(S @ FB + 1e-8), norm="ortho", axis=1)[:, :20]
    return np.concatenate([mf.mean(0), mf.std(0)])
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit([feat(x) for x in tr[0]], tr[1])
print("spk clf orig", np.mean(clf.predict([feat(x) for x in te[0]]) == te[1]),
      "recon->src", np.mean(clf.predict([feat(x) for x in recs]) == srcs), "conv->tgt", np.mean(clf.predict([feat(x) for x in convs]) == tgts),
      "conv->src", np.mean(clf.predict([feat(x) for x in convs]) == srcs))
# speaker probe on codes: 1 s chunks histograms
def chunks(split):
    X, Y, F = [], [], []
    for x, s in zip(split[0], split[1]):
        for i in range(x.size // 16000):
            X.append(x[i * 16000:(i + 1) * 16000]); Y.append(s)
    X = np.stack(X)[..., None]
    codes = np.concatenate([np.asarray(m.encode(X[i:i + 64])) for i in range(0, len(X), 64)])
    H = np.stack([np.bincount(c, minlength=a.K) / c.size for c in codes])
    return H, np.array(Y), [feat(x[:, 0]) for x in X], codes
Htr, Ytr, Ftr, ctr = chunks(tr); Hte, Yte, Fte, cte = chunks(te)
pc = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(Htr, Ytr)
pa = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(Ftr, Ytr)
cnt = np.bincount(cte.ravel(), minlength=a.K); pp = cnt / cnt.sum()
print("probe codes", np.mean(pc.predict(Hte) == Yte), "probe audio", np.mean(pa.predict(Fte) == Yte), "usage", (cnt > 0).mean(), "perplexity", np.exp(-(pp[pp > 0] * np.log(pp[pp > 0])).sum()))
print(f"decode speed: {(time.time()-t0)}")
