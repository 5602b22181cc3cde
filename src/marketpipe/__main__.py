"""``python -m marketpipe`` is the ``marketpipe`` command."""

from marketpipe.cli import main

main()
