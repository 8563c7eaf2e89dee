"""`python -m pinnkit`: the command line; Ctrl-C while it is still importing exits 130 with one line."""
import sys

try:
    from .cli import main
except KeyboardInterrupt:
    print("interrupted: while starting, nothing written", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
