"""The one exception type the command line turns into a one-line message."""

import os
import sys

# The exit code of a command or script that a UserError stopped (argparse's for bad arguments).
USER_ERROR_EXIT = 2


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
        print(f"error: {e}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
    except BrokenPipeError:
        stdout_closed()
