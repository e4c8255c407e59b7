"""Wiring the simulator, the venues, the journal and the engine together.

The simulator only serves; this package holds the client side that reaches it.
"""
