"""A mergeable histogram with bounded relative error, for percentiles.

A mergeable histogram of numbers with a bounded relative error, for percentiles over
rollups: the histograms of two days add up to the histogram of both.

Buckets grow geometrically by ``GAMMA = (1 + a) / (1 - a)`` with a = 1%: a positive value x
falls in bucket k = ceil(log(x) / log(GAMMA)), which holds (GAMMA^(k-1), GAMMA^k], and the
bucket reports 2 * GAMMA^k / (GAMMA + 1), within a of every value in it (the DDSketch
construction). Zero has a bucket of its own; negative values (custom metrics may be negative)
mirror the positive ones. A percentile is the reported value of the bucket holding the
nearest-rank element, so it is within 1% of the exact nearest-rank value. Up to
``EXACT_LIMIT`` values the histogram also keeps the values themselves, and its percentiles are
exact: small samples (a quiet pipeline's week) show the durations that were measured.

Stored as JSON: ``{"b": [key, count, key, count, ...], "v": [values...]}`` ("v" while exact)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

RELATIVE_ERROR = 0.01
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(GAMMA)
#: Keys of positive values are ``_OFFSET + k``, of negative values ``-_OFFSET - k`` (k may be
#: negative for |x| < 1; doubles need |k| < 36,000), zero is 0: sorting keys sorts values.
_OFFSET = 100_000
EXACT_LIMIT = 64


def bucket_of(value: float) -> int:
    if value > 0:
        return _OFFSET + math.ceil(math.log(value) / _LOG_GAMMA)
    if value < 0:
        return -_OFFSET - math.ceil(math.log(-value) / _LOG_GAMMA)
    return 0


def value_of(bucket: int) -> float:
    """The value a bucket reports: within ``RELATIVE_ERROR`` of every value in it."""
    if bucket == 0:
        return 0.0
    k = bucket - _OFFSET if bucket > 0 else -bucket - _OFFSET
    magnitude = 2 * GAMMA**k / (GAMMA + 1)
    return magnitude if bucket > 0 else -magnitude


def upper_edge(bucket: int) -> float:
    """The largest value the bucket holds: no value in it, nor the value it reports, is
    larger."""
    if bucket == 0:
        return 0.0
    if bucket > 0:
        return float(GAMMA ** (bucket - _OFFSET))
    return -float(GAMMA ** (-bucket - _OFFSET - 1))


class Histogram:
    """Counts per bucket, plus the exact count and sum of the values added."""

    __slots__ = ("count", "counts", "limit", "total", "values")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        #: The values themselves while there are at most ``limit`` (None beyond).
        self.values: list[float] | None = []
        #: How many values it keeps: ``EXACT_LIMIT``, or None (every value: exact).
        self.limit: int | None = EXACT_LIMIT

    @classmethod
    def of(cls, values: Iterable[float], *, exact: bool = False) -> Histogram:
        """The histogram of ``values``; ``exact``: it keeps every value, so its percentiles
        are exact however many (for the reference computations, never stored)."""
        histogram = cls()
        if exact:
            histogram.limit = None
        kept = list(values)
        counts = histogram.counts
        for value in kept:
            key = bucket_of(value)
            counts[key] = counts.get(key, 0) + 1
            histogram.total += value
        histogram.count = len(kept)
        histogram._keep(kept)
        return histogram

    def add(self, value: float) -> None:
        key = bucket_of(value)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.count += 1
        self.total += value
        self._keep([value])

    def _keep(self, values: list[float] | None) -> None:
        limit = self.limit
        if (
            self.values is None
            or values is None
            or (limit is not None and len(self.values) + len(values) > limit)
        ):
            self.values = None
        else:
            self.values = self.values + values  # never shared with another histogram

    def merge(self, other: Histogram) -> None:
        counts = self.counts
        if not counts:
            self.counts = dict(other.counts)
        else:
            for key, count in other.counts.items():
                counts[key] = counts.get(key, 0) + count
        self.count += other.count
        self.total += other.total
        self._keep(other.values)

    def merged(self, other: Histogram | None) -> Histogram:
        """This histogram with ``other`` (if any) added; returned for chaining."""
        if other is not None:
            self.merge(other)
        return self

    def merge_encoded(self, encoded: dict[str, list[Any]], count: int, total: float) -> None:
        """Add a histogram stored as ``encode()`` returned it, with its count and sum."""
        counts = self.counts
        flat = encoded["b"]
        if not counts:
            self.counts = dict(zip(flat[::2], flat[1::2], strict=True))
        else:
            for index in range(0, len(flat), 2):
                key = flat[index]
                counts[key] = counts.get(key, 0) + flat[index + 1]
        self.count += count
        self.total += total
        self._keep(encoded.get("v"))

    def subtract(self, other: Histogram) -> None:
        """Remove what ``other`` (a part of this histogram) added."""
        counts = self.counts
        for key, count in other.counts.items():
            left = counts.get(key, 0) - count
            if left > 0:
                counts[key] = left
            else:
                counts.pop(key, None)
        self.count -= other.count
        self.total -= other.total
        self.values = None

    def encode(self) -> dict[str, list[Any]]:
        flat: list[int] = []
        for key in sorted(self.counts):
            flat += (key, self.counts[key])
        return {"b": flat} if self.values is None else {"b": flat, "v": self.values}

    def percentile(self, percentile: float) -> float | None:
        """The reported value of the bucket holding the element at rank ceil(p/100 * n); None
        when empty, or when only the count and sum were read (no buckets)."""
        if not self.count or not self.counts:
            return None
        rank = max(1, math.ceil(percentile / 100 * self.count))
        if self.values is not None and len(self.values) == self.count:
            return sorted(self.values)[rank - 1]
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return value_of(key)
        return value_of(max(self.counts))  # pragma: no cover - counts add up to count

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None
