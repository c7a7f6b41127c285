"""
The operator's web page on the router's HTTP site: the live state of
phones, calls, voice ports, MGCP, policing and the certificate server, read
from the same admin commands C{srst-cli} runs.
"""
