"""Datasets of the 'calendars' group."""
