"""Datasets of the 'macro' group."""
