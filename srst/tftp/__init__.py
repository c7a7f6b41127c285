"""
TFTP (RFC 1350): the sans-IO packet codec (L{srst.tftp.codec}), a read-only
client (L{srst.tftp.client}, the gateway's configuration download) and a
read-only server (L{srst.tftp.server}, what C{srst-ccm} serves it with).
"""
