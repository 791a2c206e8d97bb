"""MARBLE's Python client SDK. Reserved: the SDK lands after the server."""

__all__: list[str] = []
