"""The fault suite: real processes and real files (issue 5)."""
