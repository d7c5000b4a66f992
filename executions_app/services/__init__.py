"""Writes of the executions app, one module per concern."""
