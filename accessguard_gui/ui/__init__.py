"""Qt layer of AccessGuard: windows, table models, dialogs. Talks to the core only."""
