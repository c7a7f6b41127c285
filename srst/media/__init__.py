"""Router-terminated media: RTP/SRTP packets, statistics, transports."""
