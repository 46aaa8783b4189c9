"""The ``dysonsgd`` command-line interface (installed as ``dysonsgd.cli``)."""
