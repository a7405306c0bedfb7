"""EHR adapters: where the chart (notes and structured facts) comes from."""
