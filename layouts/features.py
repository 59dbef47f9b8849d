"""Feature flags in the UI: pages name the feature that governs them, and turned-off ones are gone.

A page registers with `feature="<key of settings.FEATURES>"` (e.g. `dash.register_page(...,
feature="dashboard_builder")`): the navbar leaves it out and its layout starts with

    if (off := page_off("dashboard_builder")) is not None:
        return off

so a direct visit shows the app's 404 page, as an unknown address does. Controls inside other
pages (export items, auto-refresh, Edit and Use buttons) ask `enabled(feature)`.
"""

from __future__ import annotations

from dash import html

from engine import services
from layouts.not_found import not_found


def enabled(feature: str) -> bool:
    """Whether this deployment offers `feature` (a key of settings.FEATURES)."""
    return services.current().settings.enabled(feature)


def page_off(feature: str) -> html.Div | None:
    """The 404 view when `feature` is turned off, else None (the page draws itself)."""
    return None if enabled(feature) else not_found()


def page_offered(page: dict) -> bool:
    """Whether a page-registry entry's feature (if it names one) is on."""
    feature = page.get("feature")
    return feature is None or enabled(feature)
