"""The `siamtrack` command's and run_tracker.py's start: the command line is imported inside a try,
so that Ctrl-C while it loads ends as quietly as Ctrl-C later on."""


def main():
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        return 130
    return run()
