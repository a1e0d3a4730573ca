"""The simulated EDM file that the simulated cmsRun writes and reads back.

Layout: the line MAGIC, one line of JSON (the header), then `events * bytes_per_event` filler bytes.
The header stores the file's GUID, the process and module that wrote it, the data tier, the number
of events and bytes_per_event. It lists the events as ranges [run, lumi, first event, count] of
consecutive event numbers, so it stays small however many events the file contains.
"""
import json
import os

MAGIC = b"CMSSW-SIM-EDM/1\n"
_FILLER_BLOCK = bytes(range(256)) * 4096


class EdmFileError(Exception):
    """The file is missing (`missing` is True) or is not a complete simulated EDM file."""

    def __init__(self, message, missing=False):
        super(EdmFileError, self).__init__(message)
        self.missing = missing


def compress_events(events):
    """Turn an iterable of (run, lumi, event) into ranges [run, lumi, first event, count]."""
    ranges = []
    for run, lumi, event in events:
        if ranges:
            last = ranges[-1]
            if last[0] == run and last[1] == lumi and last[2] + last[3] == event:
                last[3] += 1
                continue
        ranges.append([run, lumi, event, 1])
    return ranges


def expand_ranges(ranges):
    for run, lumi, first, count in ranges:
        for event in range(first, first + count):
            yield run, lumi, event


def count_events(ranges):
    return sum(item[3] for item in ranges)


def write_edm_file(path, header, bytes_per_event):
    """Write the file; `header` needs guid, process, module, dataTier and ranges. Returns the size."""
    events = count_events(header["ranges"])
    full_header = dict(header, events=events, bytes_per_event=bytes_per_event)
    remaining = events * bytes_per_event
    with open(path, "wb") as handle:
        handle.write(MAGIC)
        handle.write(json.dumps(full_header, sort_keys=True).encode("ascii") + b"\n")
        while remaining > 0:
            chunk = _FILLER_BLOCK[:remaining]
            handle.write(chunk)
            remaining -= len(chunk)
    return os.path.getsize(path)


def read_edm_header(path):
    """Return the header of a complete simulated EDM file; raise EdmFileError otherwise."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            magic = handle.read(len(MAGIC))
            header_line = handle.readline(1 << 20)
    except OSError as error:
        missing = not os.path.exists(path)
        raise EdmFileError("cannot open %s: %s" % (path, error.strerror), missing=missing) from None
    if magic != MAGIC:
        raise EdmFileError("%s is not a simulated EDM file (%d bytes, no header)" % (path, size))
    try:
        header = json.loads(header_line.decode("ascii"))
        expected = len(MAGIC) + len(header_line) + header["events"] * header["bytes_per_event"]
    except (ValueError, KeyError, TypeError):
        raise EdmFileError("%s has a corrupt header" % path) from None
    if size != expected:
        raise EdmFileError("%s is truncated or damaged: %d bytes, expected %d" % (path, size, expected))
    return header
