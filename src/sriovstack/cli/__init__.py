"""The ``sriovstack`` command line."""
