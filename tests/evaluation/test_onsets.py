"""Onset detection, matching and F-measure on signals whose answers are known."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from livefoley.models.evaluation.onsets import (
    audio_onsets,
    match_onsets,
    onset_envelope,
    onset_f_measure,
)

from .signals import SR, click_train, irregular_times


def test_detects_clicks_within_10ms():
    times = irregular_times(12, 4.0)
    found = audio_onsets(click_train(times, 4.0), SR)
    assert len(found) == len(times)
    assert np.max(np.abs(found - times)) < 0.01


def test_silence_has_no_onsets_and_zero_envelope():
    silence = np.zeros((SR * 2, 2), np.float32)
    assert np.all(onset_envelope(silence, SR) == 0)
    assert audio_onsets(silence, SR).size == 0


def test_identical_onsets_give_f_one():
    times = irregular_times(20, 6.0)
    s = onset_f_measure(times, times)
    assert (s.f_measure, s.precision, s.recall, s.matches) == (1.0, 1.0, 1.0, len(times))


def test_disjoint_onsets_give_f_zero():
    ref = np.arange(10) * 1.0
    s = onset_f_measure(ref, ref + 0.5)
    assert s.f_measure == 0.0 and s.matches == 0


def test_tolerance_is_50ms_inclusive():
    ref = np.array([1.0, 2.0, 3.0])
    assert onset_f_measure(ref, ref + 0.049).f_measure == 1.0
    assert onset_f_measure(ref, ref + 0.050).f_measure == 1.0
    assert onset_f_measure(ref, ref + 0.051).f_measure == 0.0


def test_half_right_gives_known_precision_and_recall():
    ref = np.arange(10) * 1.0
    est = np.concatenate([ref[:5] + 0.01, [20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0,
                                           28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0]])
    s = onset_f_measure(ref, est)
    assert s.matches == 5 and s.recall == 0.5 and s.precision == 0.25
    assert abs(s.f_measure - 2 * 0.5 * 0.25 / 0.75) < 1e-12


def test_empty_estimate_scores_zero_like_mir_eval():
    assert onset_f_measure(np.array([1.0]), np.array([])).f_measure == 0.0


def _max_matching(ref, est, tol):
    # Kuhn's augmenting paths: the maximum bipartite matching mir_eval computes
    adj = [[j for j, e in enumerate(est) if abs(e - r) <= tol + 1e-12] for r in ref]
    match_e = [-1] * len(est)

    def augment(i, seen):
        for j in adj[i]:
            if not seen[j]:
                seen[j] = True
                if match_e[j] == -1 or augment(match_e[j], seen):
                    match_e[j] = i
                    return True
        return False

    return sum(augment(i, [False] * len(est)) for i in range(len(ref)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 2), max_size=12), st.lists(st.floats(0, 2), max_size=12))
def test_greedy_sweep_is_a_maximum_matching(ref, est):
    pairs = match_onsets(np.array(ref), np.array(est), 0.05)
    assert len(pairs) == _max_matching(ref, est, 0.05)
    assert len({i for i, _ in pairs}) == len(pairs) == len({j for _, j in pairs})
    assert all(abs(ref[i] - est[j]) <= 0.05 + 1e-12 for i, j in pairs)
