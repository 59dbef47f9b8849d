"""Metric library: revenue, product and KPI metrics, each a query run inside the data source."""
