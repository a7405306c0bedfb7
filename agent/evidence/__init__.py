"""Evidence: verbatim, located quotes from the chart that back a letter."""
