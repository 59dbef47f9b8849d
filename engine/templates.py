"""Built-in dashboard templates: YAML files under engine/templates/, validated when loaded."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from analytics.catalog import CATALOG, list_metrics
from engine.spec import VISUALIZATIONS, DashboardSpec

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
# The seed's metric names that differ from the catalog's.
METRIC_ALIASES = {"clv": "ltv", "churn_rate": "customer_churn_rate"}


def resolve_metric(name: str) -> str:
    """The catalog name of a metric named in a template (the seed says clv, the catalog ltv)."""
    return METRIC_ALIASES.get(name, name)


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
    # A headline metric is shown by a widget running it, or by a KPI widget tracking it.
    shown = {w.metric for w in spec.widgets} | {
        str(w.params["kpi"])
        for w in spec.widgets
        if w.metric == "kpi_progress" and "kpi" in w.params
    }
    for i, name in enumerate(spec.metrics):
        metric = resolve_metric(name)
        if metric not in CATALOG:
            raise TemplateError(f"{path.name}: field metrics.{i}: unknown metric {name!r}")
        if metric not in shown and name not in shown:
            raise TemplateError(f"{path.name}: field metrics.{i}: no widget shows {name!r}")
    # Each listed visualization is drawn by a widget tagged with it, of a type that draws it.
    for i, widget in enumerate(spec.widgets):
        name = widget.visualization
        if name is None:
            continue
        if name not in spec.visualizations:
            raise TemplateError(
                f"{path.name}: field widgets.{i}.visualization: {name!r} is not in visualizations"
            )
        if widget.type not in VISUALIZATIONS[name]:
            wanted = " or ".join(VISUALIZATIONS[name])
            raise TemplateError(
                f"{path.name}: field widgets.{i}.type: {name!r} is drawn by a {wanted} widget"
            )
    tagged = {w.visualization for w in spec.widgets}
    for i, name in enumerate(spec.visualizations):
        if name not in tagged:
            wanted = " or ".join(VISUALIZATIONS[name])
            raise TemplateError(
                f"{path.name}: field visualizations.{i}: {name!r} needs a widget of type {wanted}"
                f" tagged `visualization: {name}`"
            )
    return spec


@cache
def builtin_dashboards() -> dict[str, DashboardSpec]:
    """Every template shipped with the service, by key; a bad file fails loudly."""
    specs = [load_template(path) for path in sorted(TEMPLATE_DIR.glob("*.yaml"))]
    return {spec.key: spec for spec in specs}
