"""Kept for old commands: the same as `python run_tracker.py compare A.json B.json [options]`."""

import sys

from tracker.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
