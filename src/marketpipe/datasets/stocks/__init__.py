"""Datasets of the 'stocks' group."""
