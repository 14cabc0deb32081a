"""NAT traversal: ICE server settings, time-limited TURN credentials, coturn configuration."""
