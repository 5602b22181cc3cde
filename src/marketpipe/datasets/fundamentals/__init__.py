"""Datasets of the 'fundamentals' group."""
