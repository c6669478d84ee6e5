"""The one exception type the command line turns into a one-line message."""
import os
import sys


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""


def stdout_closed():
    """Whoever read our stdout stopped (e.g. `| head`): stop quietly, as command-line tools do."""
    # Point stdout at /dev/null, or Python's flush at exit would raise the same error again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run_script(main):
    """Run a script's main(): a UserError ends it with its one-line message, not a traceback."""
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
    except BrokenPipeError:
        stdout_closed()
