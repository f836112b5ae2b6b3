"""Reading a Prometheus scrape against the README's metrics tables (both services' tests)."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\| `(junction_(?:engine|control)_\w+)` \| (\w+) \|([^|]*)\|", re.M)
# what each kind of family is exposed as: the sample carrying its labels
_SAMPLE = {"counter": "", "gauge": "", "histogram": "_count"}


def documented(prefix: str) -> dict[str, tuple[str, frozenset[str]]]:
    """The README's metrics table: name -> (type, label names)."""
    rows = _ROW.findall((ROOT / "README.md").read_text())
    found = {
        name: (kind, frozenset(re.findall(r"`(\w+)`", labels)))
        for name, kind, labels in rows
        if name.startswith(prefix)
    }
    assert len(found) >= 10, "the README lost its metrics table"
    return found


def samples(text: str) -> dict[str, list[dict[str, str]]]:
    """Every sample name of a scrape with the label sets it was seen with."""
    found: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, []).append(dict(s.labels))
    return found


def families_scraped(text: str, prefix: str) -> dict[str, str]:
    """Family name (as the README spells it) -> type, for every family of `prefix`."""
    out = {}
    for family in text_string_to_metric_families(text):
        # prometheus-client's creation times of counters and histograms are not families
        if family.name.startswith(prefix) and not family.name.endswith("_created"):
            name = family.name + "_total" if family.type == "counter" else family.name
            out[name] = family.type
    return out


def assert_matches_readme(text: str, prefix: str) -> None:
    docs = documented(prefix)
    scraped = samples(text)
    missing = []
    for name, (kind, labels) in docs.items():
        sample = name + _SAMPLE[kind]
        seen = scraped.get(sample)
        if not seen:
            missing.append(name)
            continue
        label_sets = {frozenset(lbl) for lbl in seen}
        assert label_sets == {labels}, f"{name}: labels {label_sets}, documented {set(labels)}"
    assert missing == [], f"documented, not exposed: {missing}"
    scraped_families = families_scraped(text, prefix)
    wanted = {n: k for n, (k, _) in docs.items()}
    differ = set(scraped_families.items()) ^ set(wanted.items())
    assert not differ, f"exposed and documented differ: {sorted(differ)}"


def value(text: str, sample: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and labels.items() <= s.labels.items():
                total += s.value
    return total
