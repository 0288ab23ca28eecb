"""Probes on codes: histograms and windows against hand-built arrays, a
probe that finds a planted dependence, and one that stays at chance
without it."""

import numpy as np
import pytest

from vq_zoo.metrics import code_probes


def test_histograms_and_windows_by_hand():
    h = code_probes.code_histograms([[0, 0, 2, 1], [3, 3, 3, 3]], 4)
    np.testing.assert_allclose(h, [[0.5, 0.25, 0.25, 0], [0, 0, 0, 1]])
    w = code_probes.code_windows([2, 0, 1], 3, context=1)
    # Rows: (t-1, t, t+1) one-hots, the edges repeated.
    np.testing.assert_array_equal(w, [
        [0, 0, 1, 0, 0, 1, 1, 0, 0],
        [0, 0, 1, 1, 0, 0, 0, 1, 0],
        [1, 0, 0, 0, 1, 0, 0, 1, 0]])
    with pytest.raises(ValueError, match="codes must lie in \\[0, 4\\)"):
        code_probes.code_histograms([[0, 4]], 4)


def test_chance_levels():
    assert code_probes.chance([0, 0, 1, 2], [0, 1, 1, 1]) == (0.25, 1 / 3)


def test_speaker_probe_finds_planted_code_preferences_and_not_absent_ones():
    rng = np.random.default_rng(0)
    k, speakers = 16, 4

    def clips(n, biased):
        codes, labels = [], []
        for i in range(n):
            s = i % speakers
            p = np.ones(k)
            if biased:
                p[4 * s:4 * s + 4] += 3.0  # each speaker favours 4 codes
            codes.append(rng.choice(k, 50, p=p / p.sum()))
            labels.append(s)
        return codes, np.array(labels)

    a, b = clips(200, True), clips(80, True)
    found = code_probes.speaker_probe(a[0], a[1], b[0], b[1], k)
    assert found["accuracy"] > 0.9 and found["chance_uniform"] == 0.25
    a, b = clips(200, False), clips(400, False)
    none = code_probes.speaker_probe(a[0], a[1], b[0], b[1], k)
    # Binomial(400, 0.25): 5 standard deviations above chance at most.
    assert none["accuracy"] < 0.25 + 5 * np.sqrt(0.25 * 0.75 / 400)


def test_phoneme_probe_reads_a_label_from_the_neighbouring_code():
    rng = np.random.default_rng(1)
    k = 8
    # The label at t is (code at t-1) % 3: only a window of codes can tell.
    def utterances(n):
        cs, ls = [], []
        for _ in range(n):
            c = rng.integers(0, k, 40)
            y = np.r_[-1, c[:-1] % 3]
            cs.append(c)
            ls.append(y)
        return cs, ls

    train, test = utterances(30), utterances(10)
    with_context = code_probes.phoneme_probe(*train, *test, k, context=1)
    alone = code_probes.phoneme_probe(*train, *test, k, context=0)
    assert with_context["accuracy"] > 0.95
    assert alone["accuracy"] < with_context["chance_majority"] + 0.1
    assert with_context["test"] == 10 * 39  # the -1 labels left out
    with pytest.raises(ValueError, match="3 codes but 2 labels"):
        code_probes.phoneme_probe([[0, 1, 2]], [[0, 1]], *test, k)
