"""pytaaa: a tactical asset allocation advisor."""

__version__ = "0.1.0"
