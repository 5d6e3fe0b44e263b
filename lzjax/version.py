"""The one place lzjax's version is written (pyproject.toml reads it; resumable stores record it)."""

__version__ = "0.1.0"
