"""PanelHealth: the last hour of one panel's requests, in bounded memory."""

from __future__ import annotations

import math
import random
import tracemalloc

import pytest

from bot.domain.panel_health import FAILURES, HealthSummary, PanelHealth

HOUR = 3600.0
PRECISION = 2 ** (1 / 8) - 1  # the histogram's documented relative error (9.1 %)
T0 = 60 * 28_333_333.0  # the start of a minute (1_699_999_980)


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def test_nothing_known_without_requests() -> None:
    summary = PanelHealth().summary(now=T0)
    assert summary == HealthSummary(requests=0, failures=0, failure_rate=None, median_seconds=None,
                                    p95_seconds=None, last_ok_at=None, last_failure_at=None, last_failure=None)
    assert summary.reachable is None


def test_the_window_drops_requests_older_than_an_hour() -> None:
    health = PanelHealth()
    health.observe("services", "timeout", 20, now=T0)
    health.observe("add", "ok", 0.4, now=T0 + 30 * 60)
    health.observe("status", "ok", 0.2, now=T0 + 59 * 60 + 59)
    assert health.summary(now=T0 + 59 * 60 + 59).requests == 3  # the first is 59 min 59 s old
    at_the_hour = health.summary(now=T0 + HOUR)
    assert (at_the_hour.requests, at_the_hour.failures) == (2, 0)  # the timeout has left the window
    assert at_the_hour.last_failure is None and at_the_hour.last_failure_at is None
    assert at_the_hour.reachable is True
    later = health.summary(now=T0 + 30 * 60 + HOUR)
    assert (later.requests, later.last_ok_at) == (1, T0 + 59 * 60 + 59)
    gone = health.summary(now=T0 + 3 * HOUR)
    assert gone.requests == 0 and gone.reachable is None and gone.last_ok_at is None


def test_a_slot_is_reused_an_hour_later_without_its_old_counts() -> None:
    health = PanelHealth()
    for _ in range(5):
        health.observe("add", "unreachable", 0.01, now=T0 + 10)
    health.observe("add", "ok", 1.0, now=T0 + HOUR + 10)  # the same slot, an hour on
    summary = health.summary(now=T0 + HOUR + 20)
    assert (summary.requests, summary.failures, summary.median_seconds is not None) == (1, 0, True)
    # A clock that went back past the window: nowhere to keep it, and it does not count.
    health.observe("add", "timeout", 20, now=T0 - 10)
    assert health.summary(now=T0 + HOUR + 20).requests == 1


def test_the_failure_rate_counts_failures_not_refusals_and_ignores_aborted() -> None:
    health = PanelHealth()
    for index in range(6):
        health.observe("add", "ok", 0.3, now=T0 + index)
    for index in range(2):
        health.observe("add", "error", 0.3, now=T0 + 10 + index)  # "not enough funds": the panel works
    health.observe("status", "timeout", 20, now=T0 + 20)
    health.observe("status", "rate_limited", 0.1, now=T0 + 21)
    for index in range(50):
        health.observe("add", "aborted", 5, now=T0 + 30 + index)  # we cancelled: as if never sent
    summary = health.summary(now=T0 + 100)
    assert (summary.requests, summary.failures, summary.failure_rate) == (10, 2, 0.2)
    assert (summary.last_failure, summary.last_failure_at) == ("rate_limited", T0 + 21)
    assert summary.last_ok_at == T0 + 5
    assert summary.reachable is True  # rate-limited: the panel answered


def test_every_failure_kind_counts() -> None:
    health = PanelHealth()
    for index, outcome in enumerate(sorted(FAILURES)):
        health.observe("balance", outcome, 1, now=T0 + index)
    summary = health.summary(now=T0 + 60)
    assert summary.requests == summary.failures == len(FAILURES) == 5
    assert summary.median_seconds is None  # no answered request: no latency to tell


def test_an_unknown_outcome_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        PanelHealth().observe("add", "okay", 1, now=T0)


@pytest.mark.parametrize("failure", ["unreachable", "timeout", "bad_response", "auth"])
def test_reachable_flips_to_false_and_back_once_an_ok_comes(failure: str) -> None:
    health = PanelHealth()
    health.observe("services", "ok", 0.5, now=T0)
    assert health.summary(now=T0 + 1).reachable is True
    health.observe("services", failure, 2, now=T0 + 120)
    down = health.summary(now=T0 + 121)
    assert down.reachable is False and down.last_failure == failure and down.last_ok_at == T0
    health.observe("services", "aborted", 1, now=T0 + 130)  # says nothing either way
    assert health.summary(now=T0 + 131).reachable is False
    health.observe("add", "ok", 0.5, now=T0 + 180)
    up = health.summary(now=T0 + 181)
    assert up.reachable is True and up.last_failure == failure and up.last_failure_at == T0 + 120
    health.observe("add", "error", 0.5, now=T0 + 240)  # a refusal is an answer
    health.observe("add", failure, 2, now=T0 + 300)
    assert health.summary(now=T0 + 301).reachable is False
    health.observe("add", "error", 0.5, now=T0 + 360)
    assert health.summary(now=T0 + 361).reachable is True


def test_only_the_latest_request_tells_whether_the_panel_is_reachable() -> None:
    health = PanelHealth()
    health.observe("add", "timeout", 20, now=T0 + 200)
    health.observe("add", "ok", 0.5, now=T0 + 100)  # finished earlier, reported later
    assert health.summary(now=T0 + 300).reachable is False


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_median_and_p95_are_within_the_histograms_precision(seed: int) -> None:
    rng = random.Random(seed)
    health = PanelHealth()
    latencies = [rng.lognormvariate(-0.5, 1.2) for _ in range(5000)]  # 0.6 s typical, a long tail
    for index, seconds in enumerate(latencies):
        health.observe("add", "ok" if index % 4 else "error", seconds, now=T0 + index * 0.5)  # 42 minutes
    for index in range(300):
        health.observe("add", "timeout", 20, now=T0 + index)  # not latencies of the panel's answers
    summary = health.summary(now=T0 + 2600)
    assert summary.requests == 5300
    for estimate, fraction in ((summary.median_seconds, 0.5), (summary.p95_seconds, 0.95)):
        true = nearest_rank(latencies, fraction)
        assert estimate is not None and abs(estimate / true - 1) <= PRECISION, (fraction, estimate, true)


def test_latencies_outside_the_histogram() -> None:
    health = PanelHealth()
    for seconds in (0.0, 0.001, -1.0, math.nan):
        health.observe("status", "ok", seconds, now=T0)
    assert health.summary(now=T0).median_seconds == 0.005  # below 10 ms: reported as 5 ms
    for _ in range(10):
        health.observe("status", "ok", 1000.0, now=T0)
    assert health.summary(now=T0).p95_seconds == pytest.approx(327.68)


def test_median_of_exact_values() -> None:
    health = PanelHealth()
    for seconds in (0.1, 0.2, 1.0, 1.0, 1.0, 2.0, 9.0):
        health.observe("add", "ok", seconds, now=T0)
    summary = health.summary(now=T0)
    assert summary.median_seconds == pytest.approx(1.0, rel=PRECISION)
    assert summary.p95_seconds == pytest.approx(9.0, rel=PRECISION)


def internal_cells(health: PanelHealth) -> int:
    """Every counter and latency cell the instance holds."""
    minutes = [minute for minute in health._minutes if minute is not None]
    return len(health._minutes) + sum(len(minute.latencies) + len(minute.__slots__) for minute in minutes)


def test_memory_stays_bounded_whatever_the_traffic() -> None:
    health = PanelHealth()
    health.observe("add", "ok", 0.5, now=T0)
    one_minute = internal_cells(health)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(100_000):  # 100k requests in one minute
            health.observe("add", ("ok", "error", "timeout")[index % 3], 0.01 + (index % 500) / 10,
                           now=T0 + index / 2000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert internal_cells(health) == one_minute
    assert grown < 20_000  # bytes: one float kept per request would be 100 times that
    summary = health.summary(now=T0 + 59)
    assert summary.requests == 100_001 and summary.failures == 33_333
    for minute in range(10 * 60):  # ten hours, one request a minute
        health.observe("status", "ok", 1.0, now=T0 + minute * 60.0)
    assert len([minute for minute in health._minutes if minute is not None]) == 60
    assert internal_cells(health) <= 60 * (62 + 9) + 60
    assert health.summary(now=T0 + 599 * 60).requests == 60
