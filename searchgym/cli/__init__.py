"""The ``searchgym`` command line (see ``searchgym.cli.main``)."""
