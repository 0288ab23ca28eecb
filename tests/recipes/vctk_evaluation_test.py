"""The speech evaluation's bookkeeping: which utterances are measured, who
each is converted to, and how the issue's targets are judged."""

import numpy as np

from vq_zoo.recipes.vctk import evaluation


def test_wer_subset_takes_every_reading_of_the_first_sentences():
    texts = ["a", "b", "a", "c", "b", "a"]
    idx, chosen = evaluation.wer_subset([None] * 6, [0] * 6, texts, 2)
    assert chosen == ["a", "b"] and idx == [0, 1, 2, 4, 5]


def test_conversion_targets_never_the_source_and_every_speaker_targeted_alike():
    n = 8
    speakers = np.tile(np.arange(n), 7)          # 7 sentences, every speaker reads each
    sentence = np.repeat(np.arange(7), n)
    targets = evaluation.conversion_targets(speakers, sentence, n)
    assert np.all(targets != speakers)
    assert np.all(np.bincount(targets, minlength=n) == 7)
    # Two speakers: always the other one.
    np.testing.assert_array_equal(
        evaluation.conversion_targets([0, 1, 0], [0, 1, 2], 2), [1, 0, 1])


def test_targets_are_judged_against_the_issue_thresholds():
    m = {"wer_originals": 0.30, "wer_reconstructions": 0.44, "wer_conversions": 0.46,
         "conversions_classified_as_target": 0.70, "reconstructions_classified_as_source": 0.84,
         "speaker_probe_codes": 0.55, "speaker_probe_audio": 0.99, "speaker_chance": 0.125,
         "phoneme_probe_codes": 0.31, "phoneme_chance_majority": 0.10}
    t = evaluation.check_targets(m)
    assert t["wer_reconstructions_minus_originals"]["met"]          # 0.14 <= 0.15
    assert not t["wer_conversions_minus_originals"]["met"]          # 0.16
    assert t["conversions_classified_as_target"]["met"]             # 0.70 >= 0.70
    assert not t["reconstructions_classified_as_source"]["met"]     # 0.84 < 0.85
    assert t["speaker_probe_codes"]["met"]                          # 0.55 <= 0.5575
    assert t["phoneme_probe_over_chance"]["met"]                    # 3.1x
    m.update(speaker_probe_codes=0.56, phoneme_probe_codes=0.29)
    t = evaluation.check_targets(m)
    assert not t["speaker_probe_codes"]["met"] and not t["phoneme_probe_over_chance"]["met"]
