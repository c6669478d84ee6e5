"""SiamFC single-object tracker: track, benchmark, train."""
