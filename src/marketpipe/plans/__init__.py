"""Plan files (YAML) read by :mod:`marketpipe.engine.plans`: package data, not code."""
