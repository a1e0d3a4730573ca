"""Loading and saving pickled processes, and the error handling that every simulated tool shares."""
import os
import pickle
import sys
import tempfile

import FWCore.ParameterSet.Config as cms

# Protocol 2 is readable by every Python 3 version that runs these tools.
PICKLE_PROTOCOL = 2


class ToolError(Exception):
    """A user-facing failure: the tool prints the message on one line and exits 1."""


def load_process(path):
    try:
        with open(path, "rb") as handle:
            process = pickle.load(handle)
    except OSError as error:
        raise ToolError("cannot read pickled process %s: %s" % (path, error.strerror)) from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as error:
        raise ToolError("%s is not a pickled process: %s" % (path, error)) from None
    if not isinstance(process, cms.Process):
        raise ToolError("%s contains a %s, not a cms.Process" % (path, type(process).__name__))
    return process


def save_process(process, path):
    """Pickle `process` to `path` through a temporary file, so a failure leaves no partial file."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".pickle-", dir=directory)
    except OSError as error:
        raise ToolError("cannot write %s: %s" % (path, error.strerror)) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            pickle.dump(process, handle, protocol=PICKLE_PROTOCOL)
        # mkstemp creates the file with mode 0600; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except OSError as error:
        os.unlink(temporary)
        raise ToolError("cannot write %s: %s" % (path, error.strerror)) from None


def run_tool(name, main):
    """Run `main()`; print a ToolError as one line prefixed by the tool name and exit 1."""
    try:
        main()
    except ToolError as error:
        sys.stderr.write("%s: error: %s\n" % (name, error))
        sys.exit(1)
