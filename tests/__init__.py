"""srst trial tests."""
