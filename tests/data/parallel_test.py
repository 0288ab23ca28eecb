"""vq_zoo.data.parallel: DTW against a brute-force dynamic programme
written here cell by cell, the alignment of a signal against a copy warped
by a known time map, the speaker normalisation of the alignment features
(a fixed spectral tilt or level changes nothing), and the pairing of a
parallel corpus's utterances (errors on a sentence one voice reads)."""

import itertools

import numpy as np
import pytest

from vq_zoo.data import parallel


def brute_force_cost(cost):
    """Least summed cost over every monotone path, by enumerating them (tiny
    matrices only)."""
    n, m = cost.shape
    best = np.inf
    # A path is a sequence of n + m - 2 - k moves with k diagonals.
    for diagonals in range(min(n, m)):
        downs, rights = n - 1 - diagonals, m - 1 - diagonals
        moves = [(1, 1)] * diagonals + [(1, 0)] * downs + [(0, 1)] * rights
        for order in set(itertools.permutations(moves)):
            i = j = 0
            total = cost[0, 0]
            for di, dj in order:
                i, j = i + di, j + dj
                total += cost[i, j]
            best = min(best, total)
    return best


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (3, 4), (4, 4), (5, 3)])
def test_dtw_path_is_a_least_cost_monotone_path(shape):
    rng = np.random.default_rng(sum(shape))
    cost = rng.uniform(0, 1, shape)
    rows, cols = parallel.dtw_path(cost)
    assert (rows[0], cols[0]) == (0, 0)
    assert (rows[-1], cols[-1]) == (shape[0] - 1, shape[1] - 1)
    steps = set(zip(np.diff(rows), np.diff(cols)))
    assert steps <= {(1, 0), (0, 1), (1, 1)}
    np.testing.assert_allclose(cost[rows, cols].sum(), brute_force_cost(cost), rtol=1e-12)


def test_dtw_path_refuses_a_bad_cost():
    with pytest.raises(ValueError, match=r"non-empty \(n, m\) matrix, got shape \(0, 3\)"):
        parallel.dtw_path(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="finite"):
        parallel.dtw_path(np.array([[0.0, np.nan]]))


def test_align_recovers_a_known_time_warp():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(60, 6))
    # The other reads the same frames, slower at first and faster later:
    # each of its frames is a source frame (a monotone map onto all 60).
    warp = np.sort(np.concatenate([np.arange(60), np.arange(0, 30, 2)]))
    warp = np.delete(warp, np.arange(50, warp.size, 4))
    other = source[warp]
    index = parallel.align(source, other)
    assert index.shape == (60,) and np.all(np.diff(index) >= 0)
    held = np.isin(np.arange(60), warp)
    # Each source frame the other kept lands on one of its copies.
    np.testing.assert_array_equal(warp[index][held], np.arange(60)[held])
    back, forth = parallel.align_both(other, source)
    np.testing.assert_array_equal(forth, index)
    # The other way round, each of the other's frames lands on the frame it
    # copies, or on a dropped neighbour the path must pass through.
    dropped = np.setdiff1d(np.arange(60), warp)
    wrong = back != warp
    assert np.all(np.isin(back[wrong], dropped)) and np.all(np.abs(back - warp) <= 1)
    assert wrong.mean() < 0.1


def test_alignment_features_ignore_a_fixed_level_and_tilt():
    rng = np.random.default_rng(1)
    envelope = rng.normal(size=(40, 32)).cumsum(0)
    tilt = np.linspace(0, 3, 32)  # a timbre: the same every frame
    a = parallel.alignment_features(envelope)
    b = parallel.alignment_features(envelope + tilt + 5.0)
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(a.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(a.std(0), 1, atol=1e-4)
    with pytest.raises(ValueError, match="more than 8 bands"):
        parallel.alignment_features(envelope[:, :8])
    with pytest.raises(ValueError, match="more than 24 bands"):
        parallel.alignment_features(envelope[:, :20], 24)
    with pytest.raises(ValueError, match="`num_cepstra` must be an int >= 1, got 0"):
        parallel.alignment_features(envelope, 0)


def test_parallel_pairs_pair_each_utterance_with_another_voice_of_its_sentence():
    rng = np.random.default_rng(2)
    texts = ["a", "a", "a", "b", "b"]
    speakers = [0, 1, 2, 0, 2]
    lengths = [30, 36, 28, 25, 31]
    features = [rng.normal(size=(n, 34)).astype("float32") for n in lengths]
    assert [list(p) for p in parallel.partners(texts, speakers)] == [
        [1, 2], [0, 2], [0, 1], [4], [3]]
    pairs = parallel.ParallelPairs(features, texts, speakers, num_bands=30)
    seen = set()
    for _ in range(20):
        speaker, frames = pairs.pair(0, 5, 40, rng)
        seen.add(int(speaker))
        assert frames.shape == (40, 34)
        v = {1: 1, 2: 2}[int(speaker)]
        index = pairs.maps[0, v]
        # Frames past the clip's utterance get the partner's aligned last frame.
        np.testing.assert_array_equal(frames[-1], features[v][index[-1]])
        np.testing.assert_array_equal(frames[0], features[v][index[5]])
    assert seen == {1, 2}
    speaker, _ = pairs.pair(3, 0, 4, rng)
    assert speaker == 2


def test_parallel_pairs_refuse_a_sentence_one_voice_reads():
    features = [np.zeros((10, 34), "float32")] * 3
    with pytest.raises(ValueError, match="1 of 3 utterances have no other voice reading "
                                         r"their sentence \(e.g. utterance 2\)"):
        parallel.ParallelPairs(features, ["a", "a", "b"], [0, 1, 0], num_bands=30)
    with pytest.raises(ValueError, match="each utterance's text"):
        parallel.partners(None, [0, 1])
