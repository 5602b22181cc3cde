"""marketpipe: the open data backbone for an investment assistant."""

__version__ = "0.1.0"
