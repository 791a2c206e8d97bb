"""MARBLE's FastAPI server (REST + GraphQL).

The server arrives with its own issue; until then this package only reserves
the name so that the distribution layout matches ARCHITECTURE.md.
"""
