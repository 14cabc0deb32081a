"""How effects reach sessions: in-memory on one process; Redis across processes later."""
