"""`flask metric`: JSON records for scripts; a bad name or parameter is one line and exit code 2."""

import json

import pytest

from tests.analytics._revenue_rows import billing, item, sub


@pytest.fixture
def cli(app):
    runner = app.server.test_cli_runner()

    def run(*args: str):
        return runner.invoke(args=["metric", *args])

    return run


def test_metric_prints_json_records_on_both_engines(cli, warehouse):
    # One customer on 100.00/month from Jan 1; a second on 50.00/month from Jan 31 (MRR from that day).
    url = warehouse(
        billing(
            [sub(1, 1, "2024-01-01"), sub(2, 2, "2024-01-31")],
            [item(1, 1, 1, "2024-01-01"), item(2, 2, 8, "2024-01-31")],
        )
    )
    result = cli(
        "mrr", "--source", url, "--param", "start=2024-01-30", "--param", "end=2024-02-01", "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"date": "2024-01-30", "mrr": 100.0},
        {"date": "2024-01-31", "mrr": 150.0},
        {"date": "2024-02-01", "mrr": 150.0},
    ]


def test_empty_denominator_is_null_in_json(cli, warehouse):
    url = warehouse(billing([], []))
    result = cli(
        "customer_churn_rate",
        "--source",
        url,
        "--param",
        "start=2024-01-01",
        "--param",
        "end=2024-01-31",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"period_start": "2024-01-01", "value": None}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mrx"], "Error: unknown metric 'mrx'; accepted: arpa, arr,"),
        (
            ["mrr", "--param", "start=2024-01-01", "--param", "end=soon"],
            "Error: mrr: parameter 'end':",
        ),
        (
            [
                "mrr",
                "--param",
                "start=2024-01-01",
                "--param",
                "end=2024-01-02",
                "--param",
                "colour=red",
            ],
            "Error: mrr: unknown parameter 'colour'; accepted:",
        ),
        (
            [
                "mrr",
                "--param",
                "start=2024-01-01",
                "--param",
                "end=2024-01-02",
                "--param",
                "interval=year",
            ],
            "Error: mrr: parameter 'interval': Input should be 'day', 'week' or 'month'",
        ),
        (["funnel", "--param", "oops"], "Error: --param 'oops': expected KEY=VALUE"),
        (
            [
                "mrr",
                "--source",
                "mysql://x",
                "--param",
                "start=2024-01-01",
                "--param",
                "end=2024-01-02",
            ],
            "Error: --source 'mysql://x': expected a duckdb://, postgresql:// or sqlite:// URL",
        ),
    ],
)
def test_bad_name_or_parameter_is_one_line_and_exit_2(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
