"""Cache hit latency of the query cache on diskcache and Redis for a ~1,000-row frame (prints figures).

Usage: .venv/bin/python bench/cache_hit_latency.py [REDIS_URL]
"""

from __future__ import annotations

import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datasources import (  # noqa: E402
    CachedSource,
    DataSource,
    DiskCacheBackend,
    Query,
    QueryCache,
    RedisBackend,
)

ROWS = 1_000
RUNS = 500


def sample_frame(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "day": pd.date_range("2026-01-01", periods=rows, freq="h", tz="UTC"),
            "customer_id": rng.integers(1, 10_000, rows),
            "plan": rng.choice(["Free", "Pro", "Team", "Enterprise"], rows),
            "mrr": rng.random(rows) * 1000,
            "active": rng.random(rows) > 0.2,
        }
    )


class FrameSource(DataSource):
    kind = "bench"

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__("bench")
        self.frame = frame

    @property
    def dialect(self) -> str:
        return "bench"

    def execute(self, query: Query, *, timeout: float | None = None) -> pd.DataFrame:
        return self.frame

    def test_connection(self) -> None:
        pass


def timed_ms(fn, runs: int = RUNS) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def main() -> None:
    frame = sample_frame()
    blob = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"frame: {len(frame)} rows x {frame.shape[1]} cols, pickle {len(blob) / 1024:.0f} KiB")
    med, p95 = timed_ms(lambda: pickle.loads(blob))
    print(f"  pickle.loads alone            median {med:.3f} ms  p95 {p95:.3f} ms")
    query = Query("SELECT * FROM mrr WHERE plan = :plan", {"plan": "Pro"})
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("diskcache", DiskCacheBackend(Path(tmp) / "cache"))]
        if len(sys.argv) > 1:
            backends.append(("redis", RedisBackend(sys.argv[1])))
        for label, backend in backends:
            fetcher = CachedSource(FrameSource(frame), QueryCache(backend, ttl=600), scope="bench")
            fetcher.forget(query)  # a leftover entry from an earlier run
            fetcher.fetch(query)  # warm: the one miss
            med, p95 = timed_ms(lambda f=fetcher: f.fetch(query))
            print(f"  {label:<10} CachedSource hit  median {med:.3f} ms  p95 {p95:.3f} ms")
            print(f"  {'':<10} counters {fetcher.stats.as_dict()}")
            fetcher.forget(query)
            backend.close()


if __name__ == "__main__":
    main()
