"""Metadata store: users, dashboards, templates, reports, schedules, exports, audit log, API tokens."""

from store.db import Store, init_store

__all__ = ["Store", "init_store"]
