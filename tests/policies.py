"""Access tables for tests: the seed's, and the one an operator writes to let analysts and managers
build dashboards (ACCESS_POLICY_FILE), which the builder and store tests run under."""

from __future__ import annotations

from pathlib import Path

import yaml

from security.access_table import parse_table

# What an operator's policy file says to open the builder to analysts and managers.
BUILDERS_FILE = {
    "access_control": {
        "manager": {
            "reports": ["all"],
            "actions": ["create", "read", "update", "delete", "export", "schedule"],
            "filters": {"department": "own_department", "date_range": "max_1_year"},
        },
        "analyst": {
            "reports": ["all"],
            "actions": ["create", "read", "update", "delete", "export"],
            "filters": {"date_range": "max_6_months"},
        },
    }
}


def builders_table() -> dict:
    from security.access_table import DEFAULT_TABLE

    return {**DEFAULT_TABLE, **parse_table(BUILDERS_FILE["access_control"])}


def write_builders_file(folder: Path) -> Path:
    """BUILDERS_FILE as YAML under `folder`, for a served app's ACCESS_POLICY_FILE."""
    path = folder / "access-policy.yaml"
    path.write_text(yaml.safe_dump(BUILDERS_FILE))
    return path
