"""Operator interface: the admin socket server and its config section, commands, show and debug renderers."""
