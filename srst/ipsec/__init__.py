"""
IPsec to CallManager through strongSwan (IOS C{crypto isakmp}, C{crypto
ipsec transform-set}, C{crypto map}): the C{crypto:} section of router.yaml
and its IOS text, the service that loads its crypto maps into a running
charon over VICI, and the SAs shown in IOS form.
"""
