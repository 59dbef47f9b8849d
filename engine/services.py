"""The per-app services (settings, metadata store, data sources) and how a request finds them."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from datasources.registry import DataSources
from settings import Settings
from store import Store

EXTENSION_KEY = "nexpo"


@dataclass
class Services:
    settings: Settings
    store: Store
    sources: DataSources

    def init_app(self, server: Flask) -> None:
        server.extensions[EXTENSION_KEY] = self


def current() -> Services:
    """The services of the app handling this request (pages and callbacks call this, never `app`)."""
    return current_app.extensions[EXTENSION_KEY]
