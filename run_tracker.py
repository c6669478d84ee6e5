#!/usr/bin/env python3
"""Track an object in a video with SiamFC; with no arguments, track the bundled demo clip."""
import sys

from tracker.cli import main

if __name__ == "__main__":
    sys.exit(main())
