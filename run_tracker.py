#!/usr/bin/env python3
"""Track an object in a video with SiamFC; with no arguments, track the bundled demo clip."""

import sys

if __name__ == "__main__":
    from tracker.entry import main

    sys.exit(main())
