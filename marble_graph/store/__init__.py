"""Persistence layer: the Kùzu graph store and the SQL metadata store."""
