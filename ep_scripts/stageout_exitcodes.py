"""Exit codes of stage_out.py, read from exit_codes.txt next to this file, and the error that carries one.

exit_codes.txt is the kit's only code table; this module parses it and applies its rule that maps a
code to a process exit status. Python 3.6, standard library only.
"""
import collections
import os

EXIT_CODES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exit_codes.txt")

ExitCode = collections.namedtuple("ExitCode", "code name fatal message")


class ExitCodeTableError(Exception):
    """exit_codes.txt is missing, unreadable or has a malformed row."""


class StageOutExit(Exception):
    """An error that ends the stage-out with one code of the table (by name) or a raw cmsRun code."""

    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code
        self.message = message


def load_exit_codes(path=EXIT_CODES_FILE):
    """Parse exit_codes.txt into a dict of ExitCode by name."""
    try:
        with open(path, encoding="utf-8") as table:
            lines = table.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExitCodeTableError("cannot read the exit-code table %s: %s" % (path, exc)) from None

    codes = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(None, 3)
        if len(fields) != 4 or not fields[0].isdigit() or fields[2] not in ("fatal", "retry"):
            raise ExitCodeTableError("%s line %d is not 'code name fatal|retry message': %r"
                                     % (path, number, line))
        codes[fields[1]] = ExitCode(int(fields[0]), fields[1], fields[2] == "fatal", fields[3])
    if "BAD_ARGUMENTS" not in codes:
        raise ExitCodeTableError("%s has no BAD_ARGUMENTS row, which defines the fatal exit status" % path)
    return codes


class ExitCodes:
    """The loaded table with the exit-status rule that exit_codes.txt documents."""

    def __init__(self, codes):
        self.by_name = codes
        self.by_number = {entry.code: entry for entry in codes.values()}
        # The fatal status is the status of BAD_ARGUMENTS (50113 % 256 = 193) by the table's own rule.
        self.fatal_status = codes["BAD_ARGUMENTS"].code % 256

    def number(self, code):
        """Return the numeric code for a table name, or the number itself (a cmsRun code)."""
        if isinstance(code, int):
            return code
        return self.by_name[code].code

    def exit_status(self, code):
        """Map a code (name or number) to the 8-bit process exit status."""
        number = self.number(code)
        if number == 0:
            return 0
        entry = self.by_number.get(number)
        if entry is not None and entry.fatal:
            return self.fatal_status
        status = number % 256
        if status in (0, self.fatal_status):
            return 1
        return status
