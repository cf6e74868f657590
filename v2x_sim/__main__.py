"""``python -m v2x_sim`` runs the command line."""

import sys

from v2x_sim.cli import main

sys.exit(main())
