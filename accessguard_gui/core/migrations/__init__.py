"""Alembic migrations of the AccessGuard schema (shipped inside the package)."""
