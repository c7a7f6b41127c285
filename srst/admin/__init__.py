"""Operator interface: admin socket server, commands, show renderers."""
