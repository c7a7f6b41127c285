"""Certificate server (CA), trustpoints and TLS contexts, and the pki: section of router.yaml."""
