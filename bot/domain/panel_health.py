"""How a panel has been doing over the last hour: requests, failures, latency (pure, no I/O).

`PanelHealth` keeps one bucket per minute for the last 60 minutes, each with counters and a
fixed-size latency histogram, so its memory is the same at one request an hour or a thousand a
second. Times are what the caller passes as `now` (seconds, e.g. time.time() or a monotonic
clock; one kind per instance).

Precision:
- The window is the current minute and the 59 before it: a request leaves it 59 to 60 minutes
  after it was observed.
- Median and p95 are nearest-rank quantiles read off the histogram, whose buckets grow by a
  factor 2**(1/4) from 10 ms to 327.68 s; a bucket reports its geometric middle, so an estimate is
  within 9.1 % (2**(1/8) - 1) of the true quantile between 10 ms and 327.68 s. Below 10 ms it
  reports 5 ms, above 327.68 s it reports 327.68 s.
- They are over the requests the panel answered (`ok` and `error`): how long a failure took (a
  refused connection, a timeout) says nothing about how fast the panel answers.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

OK = "ok"
REFUSED = "error"  # the panel answered with a refusal: it works, the request was wrong
ABORTED = "aborted"  # we cancelled the request ourselves: says nothing about the panel
# The panel did not serve the request; the first four also mean it cannot be reached as configured.
UNREACHABLE_FAILURES = frozenset({"unreachable", "timeout", "bad_response", "auth"})
FAILURES = UNREACHABLE_FAILURES | {"rate_limited"}
OUTCOMES = FAILURES | {OK, REFUSED, ABORTED}

WINDOW_MINUTES = 60
_SMALLEST_BOUND = 0.01  # seconds
_BOUNDS_PER_DOUBLING = 4
# Upper bounds of the latency buckets: 10 ms, 11.9 ms, ... 327.68 s (61 bounds, 62 buckets).
_BOUNDS = tuple(_SMALLEST_BOUND * 2 ** (index / _BOUNDS_PER_DOUBLING) for index in range(61))
_BUCKETS = len(_BOUNDS) + 1


def _bucket_of(seconds: float) -> int:
    return bisect_right(_BOUNDS, seconds)


def _seconds_of(bucket: int) -> float:
    """What a latency bucket reports: its geometric middle (the outer two: see the module's doc)."""
    if bucket == 0:
        return _SMALLEST_BOUND / 2
    if bucket == _BUCKETS - 1:
        return _BOUNDS[-1]
    return math.sqrt(_BOUNDS[bucket - 1] * _BOUNDS[bucket])


@dataclass(frozen=True)
class HealthSummary:
    """A panel's last hour. Times are the `now` values the requests were observed at."""

    requests: int  # every request but those we aborted ourselves
    failures: int  # requests the panel did not serve (refusals are not failures)
    failure_rate: float | None  # failures / requests; None: no request
    median_seconds: float | None  # of the answered requests; None: none answered
    p95_seconds: float | None
    last_ok_at: float | None
    last_failure_at: float | None
    last_failure: str | None  # its outcome, e.g. "timeout"
    last_outcome: str | None = None  # of the latest request, whatever it was

    @property
    def reachable(self) -> bool | None:
        """None: nothing known in the last hour; False: the latest request found the panel unreachable
        (no connection, a timeout, an answer that is not the panel's API, a refused key)."""
        if self.last_outcome is None:
            return None
        return self.last_outcome not in UNREACHABLE_FAILURES


class _Minute:
    """One minute's counts. Reused in place when its slot comes round again."""

    __slots__ = ("failures", "last_at", "last_failure", "last_failure_at", "last_ok_at", "last_outcome", "latencies",
                 "minute", "requests")
    minute: int
    requests: int
    failures: int
    latencies: list[int]  # requests answered in this minute, by latency bucket
    last_at: float | None
    last_outcome: str | None
    last_ok_at: float | None
    last_failure_at: float | None
    last_failure: str | None

    def __init__(self, minute: int) -> None:
        self.latencies = [0] * _BUCKETS
        self.reset(minute)

    def reset(self, minute: int) -> None:
        self.minute = minute
        self.requests = 0
        self.failures = 0
        for index in range(_BUCKETS):
            self.latencies[index] = 0
        self.last_at = self.last_outcome = None
        self.last_ok_at = None
        self.last_failure_at = self.last_failure = None


class PanelHealth:
    """Requests to one panel over the last hour, in bounded memory (see the module's doc)."""

    def __init__(self) -> None:
        self._minutes: list[_Minute | None] = [None] * WINDOW_MINUTES  # slot = minute % WINDOW_MINUTES
        self._newest_minute: int | None = None

    def observe(self, action: str, outcome: str, seconds: float, *, now: float) -> None:
        """One finished request. `action` (services, add, status...) does not change the counts:
        every request tells about the panel the same way. `seconds`: how long it took."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        if outcome == ABORTED:
            return
        minute = math.floor(now / 60)
        if self._newest_minute is not None and minute <= self._newest_minute - WINDOW_MINUTES:
            return  # older than the window already (a clock that went back): nothing to keep it in
        self._newest_minute = minute if self._newest_minute is None else max(self._newest_minute, minute)
        slot = minute % WINDOW_MINUTES
        bucket = self._minutes[slot]
        if bucket is None:
            bucket = self._minutes[slot] = _Minute(minute)
        elif bucket.minute != minute:
            bucket.reset(minute)  # that slot held a minute an hour old or more
        bucket.requests += 1
        if outcome in FAILURES:
            bucket.failures += 1
            if bucket.last_failure_at is None or now >= bucket.last_failure_at:
                bucket.last_failure_at, bucket.last_failure = now, outcome
        else:  # answered: ok or a refusal
            bucket.latencies[_bucket_of(seconds if math.isfinite(seconds) and seconds > 0 else 0.0)] += 1
            if outcome == OK and (bucket.last_ok_at is None or now >= bucket.last_ok_at):
                bucket.last_ok_at = now
        if bucket.last_at is None or now >= bucket.last_at:
            bucket.last_at, bucket.last_outcome = now, outcome

    def summary(self, *, now: float) -> HealthSummary:
        current = math.floor(now / 60)
        window = [bucket for bucket in self._minutes
                  if bucket is not None and current - WINDOW_MINUTES < bucket.minute <= current]
        requests = sum(bucket.requests for bucket in window)
        failures = sum(bucket.failures for bucket in window)
        latencies = [sum(bucket.latencies[index] for bucket in window) for index in range(_BUCKETS)]
        last = _latest(window, "last_at")
        last_ok = _latest(window, "last_ok_at")
        last_failure = _latest(window, "last_failure_at")
        return HealthSummary(
            requests=requests,
            failures=failures,
            failure_rate=failures / requests if requests else None,
            median_seconds=_quantile(latencies, 0.5),
            p95_seconds=_quantile(latencies, 0.95),
            last_ok_at=last_ok.last_ok_at if last_ok else None,
            last_failure_at=last_failure.last_failure_at if last_failure else None,
            last_failure=last_failure.last_failure if last_failure else None,
            last_outcome=last.last_outcome if last else None,
        )


def _latest(window: list[_Minute], field: str) -> _Minute | None:
    """The bucket with the latest `field` time (a later minute wins a tie)."""
    dated = [bucket for bucket in window if getattr(bucket, field) is not None]
    return max(dated, key=lambda bucket: (getattr(bucket, field), bucket.minute), default=None)


def _quantile(counts: list[int], fraction: float) -> float | None:
    """The nearest-rank quantile of a latency histogram, as its bucket reports it."""
    total = sum(counts)
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return _seconds_of(bucket)
    return _seconds_of(_BUCKETS - 1)  # not reached: the counts add up to the total
