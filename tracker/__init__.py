"""SiamFC single-object tracker: track, benchmark, train."""

__version__ = "0.2.0"
