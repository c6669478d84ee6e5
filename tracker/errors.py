"""The one exception type the command line turns into a one-line message."""
import sys


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""


def run_script(main):
    """Run a script's main(): a UserError ends it with its one-line message, not a traceback."""
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
