"""Built-in dashboard templates: YAML files under engine/templates/, validated when loaded."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from analytics.catalog import CATALOG, list_metrics
from engine.spec import DashboardSpec

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


class TemplateError(ValueError):
    """A template file that cannot be used; the message names the file and the field."""


def load_template(path: Path) -> DashboardSpec:
    try:
        raw = yaml.safe_load(path.read_text())
        spec = DashboardSpec.model_validate(raw)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path.name}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise TemplateError(f"{path.name}: field {where}: {err['msg']}") from None
    list_metrics()  # loads the catalog
    for i, widget in enumerate(spec.widgets):
        if widget.metric not in CATALOG:
            raise TemplateError(
                f"{path.name}: field widgets.{i}.metric: unknown metric {widget.metric!r}"
            )
    return spec


@cache
def builtin_dashboards() -> dict[str, DashboardSpec]:
    """Every template shipped with the service, by key; a bad file fails loudly."""
    specs = [load_template(path) for path in sorted(TEMPLATE_DIR.glob("*.yaml"))]
    return {spec.key: spec for spec in specs}
