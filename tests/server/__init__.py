"""Server tests: the real aiohttp app on a loopback port, driven by real WebSocket clients."""
