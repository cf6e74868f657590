"""The package version, in one place (read by the public API and by results)."""

__version__ = "0.1.0"
