"""``python -m gptbook train ...`` and ``python -m gptbook generate ...`` (see :mod:`gptbook.cli`)."""

import sys

from gptbook.cli import main

sys.exit(main())
