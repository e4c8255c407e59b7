"""The ``router`` command line (the console script ``router`` runs :data:`app`)."""

from router.cli.main import app, main

__all__ = ["app", "main"]
