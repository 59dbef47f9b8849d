"""Typed data source errors; each carries a `user_message` that is safe to show (no DSN, SQL or trace)."""

from __future__ import annotations


class DataSourceError(Exception):
    """Base of every data source failure."""

    user_message = "The data source could not answer this query."

    def __init__(self, detail: str, *, source: str | None = None, user_message: str | None = None):
        super().__init__(detail)
        self.source = source
        if user_message is not None:
            self.user_message = user_message


class SourceConfigError(DataSourceError):
    user_message = "The data source is not configured correctly."


class SourceUnavailableError(DataSourceError):
    user_message = "The data source is unreachable right now. Try again in a minute."


class QueryError(DataSourceError):
    user_message = "The query could not run against this data source."


class QueryTimeoutError(DataSourceError):
    user_message = "The query took too long and was stopped."


class UnknownSourceError(DataSourceError):
    user_message = "No data source with this name is configured."
