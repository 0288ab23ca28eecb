"""What discrete codes carry: linear probes (logistic regression) on the
codes alone for the speaker (code histograms of a clip) and the phoneme
(a window of codes around each step), each beside chance, as in the VQ-VAE
paper's section 4.3."""

import numpy as np

from vq_zoo.metrics.speaker_id import fit_logistic_probe


def code_histograms(codes, num_embeddings):
    """Normalised counts `(clips, num_embeddings)` of each code in each
    clip's codes `(clips, steps)` (or a list of 1-D arrays)."""
    out = []
    for c in codes:
        c = np.asarray(c).reshape(-1)
        if c.size and (c.min() < 0 or c.max() >= num_embeddings):
            raise ValueError(f"codes must lie in [0, {num_embeddings}), got "
                             f"[{c.min()}, {c.max()}]")
        counts = np.bincount(c, minlength=num_embeddings)
        out.append(counts / max(1, counts.sum()))
    return np.asarray(out, np.float64)


def code_windows(codes, num_embeddings, context=1):
    """One row per step of a 1-D code sequence: the one-hot codes of the
    steps `t - context .. t + context` (edges repeat the end codes)
    concatenated, `(steps, (2 * context + 1) * num_embeddings)`."""
    codes = np.asarray(codes).reshape(-1)
    steps = codes.size
    out = np.zeros((steps, (2 * context + 1) * num_embeddings), np.float32)
    for k, shift in enumerate(range(-context, context + 1)):
        idx = np.clip(np.arange(steps) + shift, 0, steps - 1)
        out[np.arange(steps), k * num_embeddings + codes[idx]] = 1.0
    return out


def chance(train_labels, test_labels):
    """`(majority, uniform)`: the test accuracy of always answering the
    training set's most frequent label, and 1 / the number of labels."""
    train_labels = np.asarray(train_labels)
    values, counts = np.unique(train_labels, return_counts=True)
    majority = values[np.argmax(counts)]
    return float(np.mean(np.asarray(test_labels) == majority)), 1.0 / len(values)


def probe_accuracy(train_features, train_labels, test_features, test_labels, seed=0):
    """Test accuracy of a logistic-regression probe and its chance levels:
    `{"accuracy", "chance_majority", "chance_uniform", "train", "test"}`."""
    probe = fit_logistic_probe(train_features, train_labels, seed)
    test_labels = np.asarray(test_labels)
    accuracy = float(np.mean(probe.predict(np.asarray(test_features)) == test_labels))
    majority, uniform = chance(train_labels, test_labels)
    return {"accuracy": accuracy, "chance_majority": majority, "chance_uniform": uniform,
            "train": int(len(train_labels)), "test": int(len(test_labels))}


def speaker_probe(train_codes, train_speakers, test_codes, test_speakers,
                  num_embeddings, seed=0):
    """The speaker from each clip's code histogram (see `probe_accuracy`)."""
    return probe_accuracy(code_histograms(train_codes, num_embeddings), train_speakers,
                          code_histograms(test_codes, num_embeddings), test_speakers,
                          seed)


def phoneme_probe(train_codes, train_labels, test_codes, test_labels, num_embeddings,
                  context=1, seed=0):
    """The phoneme at each code step from the codes around it. `*_codes`
    and `*_labels`: lists of 1-D arrays of equal lengths per utterance
    (labels -1 are left out). See `probe_accuracy`."""
    def rows(codes, labels):
        xs, ys = [], []
        for c, y in zip(codes, labels):
            c, y = np.asarray(c).reshape(-1), np.asarray(y).reshape(-1)
            if c.size != y.size:
                raise ValueError(f"{c.size} codes but {y.size} labels in one utterance")
            keep = y >= 0
            xs.append(code_windows(c, num_embeddings, context)[keep])
            ys.append(y[keep])
        return np.concatenate(xs), np.concatenate(ys)

    train_x, train_y = rows(train_codes, train_labels)
    test_x, test_y = rows(test_codes, test_labels)
    return probe_accuracy(train_x, train_y, test_x, test_y, seed)


__all__ = ["chance", "code_histograms", "code_windows", "phoneme_probe",
           "probe_accuracy", "speaker_probe"]
