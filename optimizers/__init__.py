"""SaddleBench entries: one module per optimizer, discovered by scanning this folder."""

from .base import BrokenEntry, Entry, discover

__all__ = ["BrokenEntry", "Entry", "discover"]
