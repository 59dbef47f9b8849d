"""Figure builders draw the frame they are given, in the house theme."""

from datetime import date

import pandas as pd

from components.figures import (
    bar_figure,
    cohort_heatmap_figure,
    funnel_figure,
    gauge_figure,
    line_figure,
    moving_average_figure,
    pie_figure,
    sparkline_figure,
)


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
    assert bar_figure(frame, "processor", ["revenue"], stacked=True).layout.barmode == "relative"


def test_sparkline_hides_axes():
    fig = sparkline_figure(pd.DataFrame({"d": [1, 2], "v": [3, 4]}), "d", "v")
    assert fig.layout.xaxis.visible is False and fig.layout.height == 48


def test_bar_figure_stacks_negatives_below_zero():
    frame = pd.DataFrame({"m": ["Oct"], "new": [5.0], "churn": [-2.0]})
    fig = bar_figure(frame, "m", ["new", "churn"], stacked=True)
    assert fig.layout.barmode == "relative" and [t.name for t in fig.data] == ["New", "Churn"]


def test_moving_average_figure_adds_a_bold_trailing_mean_per_series():
    frame = pd.DataFrame({"date": pd.date_range("2026-01-01", periods=4), "value": [1.0, 3, 5, 7]})
    fig = moving_average_figure(frame, "date", ["value"], 2)
    assert [t.name for t in fig.data] == ["Value", "Value (2-point avg)"]
    assert list(fig.data[1].y) == [1.0, 2.0, 4.0, 6.0]
    assert fig.data[1].line.width > fig.data[0].line.width


def test_line_figure_draws_a_goal_dashed():
    frame = pd.DataFrame({"m": [1, 2], "value": [1.0, 2.0], "goal": [2.0, 2.0]})
    fig = line_figure(frame, "m", ["value", "goal"])
    assert fig.data[1].line.dash == "dash" and fig.data[0].line.dash == "solid"


def test_funnel_figure_orders_steps_and_shows_share_of_first_step():
    frame = pd.DataFrame(
        {
            "step": [2, 1, 3],
            "event": ["signup_completed", "signup_started", "paid"],
            "count": [50, 100, 10],
        }
    )
    fig = funnel_figure(frame)
    (trace,) = fig.data
    assert trace.type == "funnel"
    assert list(trace.y) == ["1. Signup started", "2. Signup completed", "3. Paid"]
    assert list(trace.x) == [100, 50, 10]
    assert "percent initial" in trace.textinfo


def test_funnel_figure_one_trace_per_breakdown_value():
    frame = pd.DataFrame(
        {
            "breakdown": ["google", "google", "direct", "direct"],
            "step": [1, 2, 1, 2],
            "event": ["a", "b", "a", "b"],
            "count": [10, 4, 8, 6],
        }
    )
    fig = funnel_figure(frame, group="breakdown")
    assert [t.name for t in fig.data] == ["google", "direct"]
    assert list(fig.data[1].x) == [8, 6] and fig.layout.showlegend


def test_cohort_heatmap_divides_each_cohort_by_its_period_zero():
    # Cohort A: 10 people, 5 back in period 1, 2 in period 2; cohort B: 4 people, 1 back in period 1.
    frame = pd.DataFrame(
        {
            "cohort": ["2026-01-05"] * 3 + ["2026-01-12"] * 2,
            "period": [0, 1, 2, 0, 1],
            "count": [10, 5, 2, 4, 1],
        }
    )
    fig = cohort_heatmap_figure(frame)
    (trace,) = fig.data
    assert trace.type == "heatmap"
    assert list(trace.x) == ["0", "1", "2"]
    assert list(trace.y) == ["Jan 5, 2026 · 10", "Jan 12, 2026 · 4"]
    assert list(trace.z[0]) == [1.0, 0.5, 0.2]
    assert list(trace.z[1]) == [1.0, 0.25, None]
    assert list(trace.text[0]) == ["100%", "50%", "20%"] and trace.text[1][2] == ""
    assert fig.layout.yaxis.autorange == "reversed"  # oldest cohort on top


def test_cohort_heatmap_draws_ratios_as_they_are_when_not_relative():
    frame = pd.DataFrame(
        {"cohort": ["2026-01-01", "2026-01-01"], "months_since": [0, 1], "value": [1.0, 1.2]}
    )
    fig = cohort_heatmap_figure(frame, period="months_since", value="value", relative=False)
    assert list(fig.data[0].z[0]) == [1.0, 1.2] and list(fig.data[0].y) == ["Jan 2026"]
    assert list(fig.data[0].text[0]) == ["100%", "120%"]


def test_gauge_figure_shows_the_latest_value_against_its_goal():
    frame = pd.DataFrame(
        {
            "period_start": ["2026-11-01", "2026-10-01"],
            "value": [90.0, 70.0],
            "goal": [120.0, 100.0],
        }
    )
    fig = gauge_figure(frame, value_format="money")
    (trace,) = fig.data
    assert trace.type == "indicator" and trace.value == 90.0
    assert trace.gauge.threshold.value == 120.0 and trace.delta.reference == 120.0
    assert trace.gauge.axis.range == (0, 150.0)  # room above the larger of value and goal
    assert trace.number.prefix == "$"
    assert trace.delta.decreasing.color == "#dc2626"  # below goal is bad...


def test_gauge_figure_lower_is_better_turns_the_colours():
    frame = pd.DataFrame({"period_start": ["2026-11-01"], "value": [0.01], "goal": [0.02]})
    fig = gauge_figure(frame, value_format="percent", lower_is_better=True)
    assert fig.data[0].delta.decreasing.color == "#059669"  # ...unless lower is better
    assert fig.data[0].number.valueformat == ".1%"


def test_pie_figure_is_a_donut_of_the_rows():
    frame = pd.DataFrame({"processor": ["stripe", "paypal"], "revenue": [75.0, 25.0]})
    fig = pie_figure(frame, "processor", "revenue", value_format="money")
    (trace,) = fig.data
    assert trace.type == "pie" and list(trace.labels) == ["stripe", "paypal"]
    assert list(trace.values) == [75.0, 25.0] and trace.hole == 0.55
    assert pie_figure(frame, "processor", "revenue", donut=False).data[0].hole == 0


def test_gauge_figure_shrinks_a_long_number_to_fit_inside_the_arc():
    short = gauge_figure(
        pd.DataFrame({"period_start": ["2026-11-01"], "value": [6691.0], "goal": [8246.0]})
    )
    long = gauge_figure(
        pd.DataFrame(
            {"period_start": ["2026-11-01"], "value": [11_113_920.3], "goal": [12_431_100.0]}
        ),
        value_format="money",
    )
    assert short.data[0].number.font.size == 28  # "6,691"
    assert long.data[0].number.font.size == 20  # "$11,113,920": 11 characters


def test_gauge_figure_falls_back_to_the_latest_period_with_a_value_and_names_it():
    frame = pd.DataFrame(
        {
            "period_start": [date(2026, 11, 1), date(2026, 12, 1)],
            "value": [0.4, None],
            "goal": [0.5, 0.5],
        }
    )
    fig = gauge_figure(frame, value_format="percent")
    trace = fig.data[0]
    assert trace.value == 0.4 and trace.gauge.threshold.value == 0.5
    assert trace.title.text == "goal 50.0% · November 2026: latest with a value"
