"""Saved dashboards and templates in the metadata store, with the policy applied to every change.

`Dashboards(store)` is the one way pages and the API create, save, clone, delete and restore
dashboards, manage saved templates, and remember what a user viewed last.

- Optimistic locking: `save(ref, spec, base_version, author)` writes only when the stored version
  is still `base_version` (one compare-and-set UPDATE, safe across workers); otherwise it raises
  `StaleVersion` and nothing is written, so no edit is lost silently.
- Every saved version is kept in `dashboard_versions`, the newest MAX_VERSIONS of them; older ones
  are pruned in the same transaction. `restore(ref, version, ...)` saves an old spec as a new
  version (history only grows forward).
- Built-in templates (engine/templates/*.yaml, or rows flagged `builtin`) can be read and cloned,
  never edited or deleted.
- Keys: a saved dashboard's slug is its spec key; slugs and template keys never collide with a
  built-in key (engine.reports.find_report looks built-ins up first).

Modules: `records` (the errors and the records handed back), `rows` (store rows as records, free
keys, slugs), `base` (the store, `get`, authorize and audit), `templates` (the template operations),
`saved` (`Dashboards`: the dashboard operations and recently viewed). Import from
`engine.dashboards`: every public name is here.
"""

from engine.dashboards.records import (
    DashboardError,
    DashboardNotFound,
    Openable,
    ReadOnlyTemplate,
    SavedDashboard,
    StaleVersion,
    TemplateInfo,
    VersionInfo,
)
from engine.dashboards.rows import slugify
from engine.dashboards.saved import MAX_RECENT, MAX_VERSIONS, Dashboards

__all__ = [
    "MAX_RECENT",
    "MAX_VERSIONS",
    "DashboardError",
    "DashboardNotFound",
    "Dashboards",
    "Openable",
    "ReadOnlyTemplate",
    "SavedDashboard",
    "StaleVersion",
    "TemplateInfo",
    "VersionInfo",
    "slugify",
]
