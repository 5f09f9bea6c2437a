"""Import and export: every format reads into and writes from one plan → dry run → apply
pipeline (``records`` is the vocabulary every format speaks)."""
