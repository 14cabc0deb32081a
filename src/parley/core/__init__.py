"""The sans-I/O signaling core: plain Python that takes events and returns effects."""
