"""Playbooks: what a denial type needs from the chart and how to argue it, as data."""
