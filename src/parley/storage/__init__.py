"""Call history in a real database: SQLite by default, PostgreSQL by URL."""
