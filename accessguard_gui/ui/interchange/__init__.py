"""Import and export windows: File > Import… and Export… (whole organisations), Export… of
a table page as shown or of the audit log of a period, and Export to CSV… on the tables
of the access views. Long work runs on a ``BackgroundTask`` with progress and Cancel."""
