"""`flask init`: migrate the metadata store and seed it once, before scaled-out workers start."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import Flask
from sqlalchemy import func, select

from store.db import Store
from store.models import User


def register(server: Flask, store: Store, seed: Callable[[Store], None] | None) -> None:
    """Add the `init` command to `server.cli`; `seed` is what start-up seeds (the demo users)."""

    @server.cli.command("init")
    def init_command() -> None:
        """Migrate the metadata store and create the demo users (demo mode); safe to repeat."""
        store.initialize(seed)
        with store.session() as session:
            users = session.scalar(select(func.count()).select_from(User))
        click.echo(f"Metadata store at revision {store.revision()}; {users} user(s).")
