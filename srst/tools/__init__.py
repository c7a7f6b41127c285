"""Command-line tools: srst-cli, srst-phone, srst-ccm."""
