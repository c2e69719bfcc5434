import sys

from parovoz.cli import main

sys.exit(main())
