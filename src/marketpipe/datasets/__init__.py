"""One module per table, grouped by area. Each module declares ``DATASET = DatasetSpec(...)``;
:mod:`marketpipe.engine.registry` discovers them. See docs/collecting.md for how to add one.
"""
