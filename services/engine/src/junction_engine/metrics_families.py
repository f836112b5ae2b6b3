"""Labelled counters and histograms cheap enough for the per-request path.

prometheus-client's own children take a lock on every update and look
their labels up through a locked dict; the engine updates its metrics from
one event loop, so a child here is a plain object whose update is one
attribute add (a histogram also finds its bucket by bisection). Children
are cached per label tuple by the family; the text is built only when
Prometheus scrapes, by the family's `collect`.

Cardinality is bounded by construction: a family holds at most `max_children`
label sets, and every label set past that is counted under one child whose
labels all read ``other`` (a misconfiguration shows up as that child, not as
an engine whose memory grows with its traffic).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

#: label sets one family keeps apart before folding the rest into ``other``
MAX_CHILDREN = 2000
OTHER = "other"


class CounterChild:
    """One label set's count."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class HistogramChild:
    """One label set's observations: a count per bucket (not cumulative) and their sum."""

    __slots__ = ("_bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # `le` is inclusive: the first bound not below the value
        self.counts[bisect_left(self._bounds, value)] += 1
        self.sum += value


class _Family(Collector):
    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], max_children: int
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = tuple(labels)
        self._max = max_children
        self._other = (OTHER,) * len(self.label_names)

    def _key(
        self, values: tuple[str, ...], children: Mapping[tuple[str, ...], object]
    ) -> tuple[str, ...]:
        if len(values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {values!r}")
        return values if len(children) < self._max else self._other


class CounterFamily(_Family):
    """A counter with labels (or none), exposed as ``<name>_total``."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        max_children: int = MAX_CHILDREN,
    ) -> None:
        super().__init__(name, documentation, labels, max_children)
        self._children: dict[tuple[str, ...], CounterChild] = {}
        if not self.label_names:
            self._children[()] = CounterChild()

    def labels(self, *values: str) -> CounterChild:
        """The child of one label set, made on first use."""
        child = self._children.get(values)
        if child is None:
            key = self._key(values, self._children)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = CounterChild()
        return child

    def inc(self, amount: float = 1.0) -> None:
        """Count on the family without labels."""
        self._children[()].value += amount

    def values(self) -> dict[tuple[str, ...], float]:
        """Each label set's count (for derived families and tests)."""
        return {k: c.value for k, c in self._children.items()}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.label_names)
        for key, child in list(self._children.items()):
            family.add_metric(key, child.value)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, labels=self.label_names)


class HistogramFamily(_Family):
    """A histogram with labels; `buckets` are the finite upper bounds, in order."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        buckets: Sequence[float],
        *,
        max_children: int = MAX_CHILDREN,
    ) -> None:
        super().__init__(name, documentation, labels, max_children)
        self.bounds = tuple(float(b) for b in buckets)
        if list(self.bounds) != sorted(set(self.bounds)):
            raise ValueError(f"{name}: buckets must increase")
        self._le = [_le(b) for b in self.bounds] + ["+Inf"]
        self._children: dict[tuple[str, ...], HistogramChild] = {}

    def labels(self, *values: str) -> HistogramChild:
        """The child of one label set, made on first use."""
        child = self._children.get(values)
        if child is None:
            key = self._key(values, self._children)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = HistogramChild(self.bounds)
        return child

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
        for key, child in list(self._children.items()):
            running = 0
            buckets = []
            for le, count in zip(self._le, child.counts, strict=True):
                running += count
                buckets.append((le, float(running)))
            family.add_metric(list(key), buckets, child.sum)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)


def _le(bound: float) -> str:
    # Prometheus' own spelling of a bound: 0.5, 1.0, 30.0
    return repr(float(bound))
