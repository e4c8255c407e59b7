"""``python -m router.cli``: the ``router`` command line."""

from router.cli.main import main

main()
