"""`python -m parovoz` is the `parovoz` command."""

import sys

from parovoz.cli import main

sys.exit(main())
