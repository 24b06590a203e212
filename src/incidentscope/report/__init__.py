"""Renderers: each turns a ReplayResult into one output format."""
