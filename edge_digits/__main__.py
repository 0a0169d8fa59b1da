import sys

from edge_digits.cli import main

sys.exit(main())
