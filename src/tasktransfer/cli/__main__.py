"""``python -m tasktransfer.cli``: the same as the ``tasktransfer`` command."""

import sys

from tasktransfer.cli.main import main

sys.exit(main())
