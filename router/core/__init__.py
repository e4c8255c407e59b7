"""The router's decision core: pure, synchronous, ``Decimal`` throughout.

Nothing here performs I/O or reads a clock: books, scores, allocations, policies and
order states go in as values and come out as values, so every decision can be
recomputed and checked by reading.
"""
