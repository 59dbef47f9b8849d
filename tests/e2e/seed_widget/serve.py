"""Test-only launcher: the app exactly as `python app.py` serves it, plus this folder (the seed's
widget page and its npm packages) under /seed-widget/ on the same origin.

The files are served by a WSGI middleware in front of Flask, so no route, setting or header of the
product changes: the page is a host page like the Nexpo app's, with its own (no) CSP, which Vue's
run-time template compiler needs; every /api call still goes through the app's own stack.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(
    0, str(HERE.parents[2])
)  # the project root: `python tests/e2e/seed_widget/serve.py`

from werkzeug.middleware.shared_data import SharedDataMiddleware  # noqa: E402

from app import create_app  # noqa: E402
from settings import Settings  # noqa: E402

PREFIX = "/seed-widget"


def main() -> None:
    settings = Settings.from_env()
    app = create_app(settings)
    server = app.server
    server.wsgi_app = SharedDataMiddleware(server.wsgi_app, {PREFIX: str(HERE)}, cache=False)  # type: ignore[method-assign]
    app.run(host=settings.host, port=settings.port, debug=False)


if __name__ == "__main__":
    main()
