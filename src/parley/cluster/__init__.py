"""Many Parley processes as one server: every process applies the same totally ordered log of
events (kept in a Redis stream) to its own replica of the signaling core, and writes to its own
sockets only. See docs/scale-out.md."""
