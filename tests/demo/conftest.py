"""Generated frames shared by the demo tests (generation is deterministic, so sharing is safe)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from demo.generator import generate

TODAY = date(2026, 5, 1)


@pytest.fixture(scope="session")
def small() -> dict[str, pd.DataFrame]:
    return generate("small", seed=42, today=TODAY)


@pytest.fixture(scope="session")
def tiny() -> dict[str, pd.DataFrame]:
    return generate("tiny", seed=7, today=TODAY)
