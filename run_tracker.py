#!/usr/bin/env python3
"""Track an object in a video with SiamFC; with no arguments, track the bundled demo clip."""

import sys

if __name__ == "__main__":
    try:
        from tracker.cli import main
    except KeyboardInterrupt:  # Ctrl-C while the imports run: stop as quietly as later on
        sys.exit(130)
    sys.exit(main())
