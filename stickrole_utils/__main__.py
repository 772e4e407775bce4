"""``python -m stickrole_utils`` = the ``stickrole`` command."""

import sys

from .cli import main

sys.exit(main())
