"""Who can do what, and why: access check, effective access, review of pending changes,
assignments, separation of duty, the role × permission matrix and the inheritance graph.

Each view is a self-contained widget that takes the ``Database`` (and the window's
``PendingStore`` where it edits); ``show_*`` helpers open one on its own for testing.
"""
