"""The comparison table: sortable, filterable columns in the house number formats."""

from datetime import date

import pandas as pd

from components.tables import comparison_table, value_formatter


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "month": [date(2026, 10, 1), date(2026, 11, 1)],
            "plan": ["Pro", "Team"],
            "mrr": [1200.5, float("nan")],
            "attainment": [0.95, 1.02],
            "on_track": [False, True],
        }
    )


def test_comparison_table_formats_each_numeric_column_and_filters_by_kind():
    grid = comparison_table(
        _frame(), formats={"mrr": "money", "attainment": "percent"}, labels={"mrr": "MRR now"}
    )
    defs = {c["field"]: c for c in grid.columnDefs}
    assert defs["mrr"]["headerName"] == "MRR now" and defs["plan"]["headerName"] == "Plan"
    assert "'$'" in defs["mrr"]["valueFormatter"]["function"]
    assert "d3.format('.1%')" in defs["attainment"]["valueFormatter"]["function"]
    assert defs["mrr"]["filter"] == "agNumberColumnFilter" and defs["mrr"]["type"] == "rightAligned"
    assert defs["month"]["filter"] == "agDateColumnFilter"
    assert defs["plan"]["filter"] == "agTextColumnFilter" and "valueFormatter" not in defs["plan"]
    assert defs["month"]["pinned"] == "left"
    assert grid.defaultColDef["sortable"] is True
    assert grid.columnSize == "responsiveSizeToFit"


def test_comparison_table_rows_are_json_safe():
    grid = comparison_table(_frame(), columns=["month", "mrr", "on_track"])
    assert grid.rowData == [
        {"month": "2026-10-01", "mrr": 1200.5, "on_track": "No"},
        {"month": "2026-11-01", "mrr": None, "on_track": "Yes"},
    ]
    assert [c["field"] for c in grid.columnDefs] == ["month", "mrr", "on_track"]


def test_long_tables_scroll_inside_the_grid():
    short = comparison_table(pd.DataFrame({"n": range(5)}))
    long = comparison_table(pd.DataFrame({"n": range(50)}))
    assert short.dashGridOptions["domLayout"] == "autoHeight"
    assert long.dashGridOptions["domLayout"] == "normal" and long.style["height"].endswith("px")


def test_value_formatter_uses_the_currency_symbol_and_a_dash_for_missing():
    euro = value_formatter("money", "EUR")["function"]
    assert "'€'" in euro and euro.startswith("params.value == null ? '—'")


def test_money_in_the_grid_is_rounded_like_the_cards():
    import pandas as pd

    from components.formats import money
    from components.tables import comparison_table

    frame = pd.DataFrame({"month": ["2026-11-01"], "mrr": [175362.47499999999]})
    grid = comparison_table(frame, formats={"mrr": "money"})
    assert grid.rowData == [{"month": "2026-11-01", "mrr": 175362.48}]
    assert money(175362.47499999999) == "$175,362.48"
