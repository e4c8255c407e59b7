"""The close engine: routing a close across venues to a stated outcome."""
