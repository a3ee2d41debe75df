"""Deadline governor: degrade in the documented order, recover with headroom."""

from livefoley.sidecar.runtime.deadline import DeadlineGovernor, QualityLevel, degrade_ladder

PERIOD_NS = 33_333_333


def test_ladder_lowers_nfe_first_then_drops_guidance():
    assert degrade_ladder(4, 3.0) == (
        QualityLevel(4, 3.0), QualityLevel(2, 3.0), QualityLevel(1, 3.0), QualityLevel(1, 1.0))
    assert degrade_ladder(1, 1.0) == (QualityLevel(1, 1.0),)
    assert degrade_ladder(3, 1.0) == (QualityLevel(3, 1.0), QualityLevel(1, 1.0))


def make(ladder=None):
    return DeadlineGovernor(ladder or degrade_ladder(4, 3.0), period_ns=PERIOD_NS, deadline_fraction=0.9,
                            degrade_after_late_steps=3, window_steps=10,
                            recover_headroom_fraction=0.5, recover_after_steps=20)


def test_late_steps_degrade_one_level_at_a_time_to_the_floor():
    g = make()
    changes = [g.observe(40_000_000) for _ in range(30)]
    levels = [c for c in changes if c is not None]
    assert levels == [QualityLevel(2, 3.0), QualityLevel(1, 3.0), QualityLevel(1, 1.0)]
    assert g.level == QualityLevel(1, 1.0) and g.degradations == 3
    assert g.steps_late == 30


def test_isolated_late_steps_do_not_degrade():
    g = make()
    for i in range(100):
        assert g.observe(40_000_000 if i % 5 == 0 else 10_000_000) is None
    assert g.level_index == 0


def test_recovers_after_sustained_headroom_and_reports_it():
    g = make()
    for _ in range(6):
        g.observe(40_000_000)
    assert g.level_index == 2
    ups = [g.observe(5_000_000) for _ in range(40)]
    assert [u for u in ups if u] == [QualityLevel(2, 3.0), QualityLevel(4, 3.0)]
    d = g.to_dict()
    assert d["recoveries"] == 2 and d["nfe"] == 4 and d["level"] == 0


def test_steps_between_headroom_and_deadline_hold_the_level():
    g = make()
    for _ in range(3):
        g.observe(40_000_000)
    for _ in range(200):
        assert g.observe(20_000_000) is None  # 60% of the period: neither late nor headroom
    assert g.level_index == 1
