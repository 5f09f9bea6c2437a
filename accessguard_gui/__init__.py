"""AccessGuard: a desktop database manager for role-based access control records."""

__version__ = "0.1.0"
