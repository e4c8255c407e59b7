"""Venue simulator: Binance spot and USD-M futures served on loopback.

The simulator is an independent implementation of an exchange. It shares no code
with the router's core, venues or engine, so that a bug in the router's book
arithmetic cannot be mirrored in the world that tests it.
"""
