"""
IPsec to CallManager through strongSwan: srst loads the crypto maps of its
config into a running charon over VICI and shows the SAs in IOS form.
"""
