"""UI factories and figure builders (DataFrame -> go.Figure) with one Plotly theme."""
