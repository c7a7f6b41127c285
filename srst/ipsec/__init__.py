"""
IPsec to CallManager through strongSwan (IOS C{crypto isakmp}, C{crypto
ipsec transform-set}, C{crypto map}): the C{crypto:} section of router.yaml
and its IOS text, and the service that loads it into charon over VICI.
"""
