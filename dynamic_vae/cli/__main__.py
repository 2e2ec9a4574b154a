"""`python -m dynamic_vae.cli`: the same program as the `dynamic-vae` script."""

import sys

from dynamic_vae.cli import main

sys.exit(main())
