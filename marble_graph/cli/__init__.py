"""The ``marble`` command line."""
