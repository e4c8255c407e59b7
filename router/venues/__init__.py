"""The ccxt boundary: one adapter for any ccxt exchange, error classification, health."""
