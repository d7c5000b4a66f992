"""Writes of the access app, one module per concern."""
