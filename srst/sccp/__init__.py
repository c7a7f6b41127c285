"""Skinny Client Control Protocol: codec, framing, station sessions, registry, and the call-manager-fallback: section."""
