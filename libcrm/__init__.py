"""libcrm — library user-relationship management."""

__version__ = "0.1.0"
