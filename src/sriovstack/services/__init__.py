"""Use cases: the only code that opens a unit of work."""
