"""Interaction events (M3, M4): the event model, its validation and the columnar event store."""
