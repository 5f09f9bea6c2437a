"""The AccessGuard web service's own database in the GUI: the "this is a service database"
choice, linked editing (refresh on open, publish on Save, the status line) and File >
Publish to service database…"""
