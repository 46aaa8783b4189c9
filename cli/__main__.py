"""``python -m dysonsgd.cli``: the same as the ``dysonsgd`` command."""

from dysonsgd.cli.main import main

main()
