import sys

from gaqmd.cli import main

sys.exit(main())
