"""The version, in one place that every module can import without importing the package's API."""

__version__ = "0.1.0"
