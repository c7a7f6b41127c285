"""Analog voice ports and their DSP."""
