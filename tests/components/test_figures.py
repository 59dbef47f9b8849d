"""Figure builders draw the frame they are given, in the house theme."""

import pandas as pd

from components.figures import bar_figure, line_figure, sparkline_figure


def test_line_figure_draws_each_series_with_the_moving_average_bold():
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2026-01-01", periods=3),
            "revenue": [10.0, 20.0, 30.0],
            "revenue_ma7": [10.0, 15.0, 20.0],
        }
    )
    fig = line_figure(frame, "date", ["revenue", "revenue_ma7"], value_format="money")
    assert [t.name for t in fig.data] == ["Revenue", "Revenue (7-day avg)"]
    assert list(fig.data[1].y) == [10.0, 15.0, 20.0]
    assert fig.data[1].line.width > fig.data[0].line.width
    assert fig.layout.yaxis.tickformat == "$,.0f"


def test_bar_figure_groups_or_stacks():
    frame = pd.DataFrame({"processor": ["stripe", "paypal"], "revenue": [5.0, 3.0]})
    fig = bar_figure(frame, "processor", ["revenue"], value_format="money")
    assert list(fig.data[0].x) == ["stripe", "paypal"] and fig.layout.barmode == "group"
    assert bar_figure(frame, "processor", ["revenue"], stacked=True).layout.barmode == "stack"


def test_sparkline_hides_axes():
    fig = sparkline_figure(pd.DataFrame({"d": [1, 2], "v": [3, 4]}), "d", "v")
    assert fig.layout.xaxis.visible is False and fig.layout.height == 48
