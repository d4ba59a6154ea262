import sys

from tron.cli.app import main

sys.exit(main())
