"""Skinny Client Control Protocol: codec, framing, station sessions, registry."""
