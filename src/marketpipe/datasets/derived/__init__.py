"""Datasets of the 'derived' group: built from other tables (and Redis), no external call."""
