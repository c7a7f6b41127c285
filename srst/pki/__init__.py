"""Certificate server (CA), trustpoints and TLS contexts."""
