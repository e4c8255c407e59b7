"""The router's HTTP API: closes, liquidity, hedges, venues, health and metrics."""
