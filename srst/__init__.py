"""srst: Secure Survivable Remote Site Telephony on Twisted."""

__version__ = "0.1.0"
