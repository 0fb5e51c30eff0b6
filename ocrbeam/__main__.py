"""``python -m ocrbeam`` is the ``ocrbeam`` command."""

import sys

from ocrbeam.cli import main

sys.exit(main())
