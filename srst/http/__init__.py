"""
The router's HTTP server (IOS C{ip http server}): one Twisted Web site,
limited and logged, that other packages plug resources into.
"""
