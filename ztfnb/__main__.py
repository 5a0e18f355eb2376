import sys

from ztfnb.cli import main

sys.exit(main())
