"""Qt-free core of AccessGuard: data model, database sessions, RBAC rules, validation."""
