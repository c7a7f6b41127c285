"""MGCP gateway and CallManager fallback."""
