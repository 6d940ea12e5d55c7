"""Plots (matplotlib, Agg backend, imported only when a plot is made)."""
