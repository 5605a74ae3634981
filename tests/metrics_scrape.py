"""Scraping and reading Prometheus /metrics the way Prometheus does (shared by the test levels)."""

from __future__ import annotations

import asyncio
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


async def scrape(url: str) -> dict[str, list]:
    """GET /metrics off the event loop (the scrape reads the store through the loop) and parse it."""
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode("utf-8"))
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    found = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert found, f"no sample {name}{labels}; have {[s.labels for s in samples.get(name, [])]}"
    return sum(found)
