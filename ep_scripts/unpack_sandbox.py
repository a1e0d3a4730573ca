"""Unpack the request tarball (request.json and PSets/) into a fresh directory, safely.

Every member is checked before anything is written. An archive is rejected as a whole, with one
"unsafe archive member <name>" error, when any member
  - has an absolute name or a ".." component,
  - is a device, a FIFO or another special file,
  - is a symbolic link or hard link whose target lies outside the destination,
  - lies under a path that another member makes a symbolic link (a "PSets" link to elsewhere
    followed by "PSets/x.py" would otherwise write outside the destination).
The archive must also contain request.json and a PSets/ directory.

Members are written by this script, not by tarfile's extract, so owners and set-uid bits from
the archive are never applied. Links are created only after all files are written.

Exit status: 0 unpacked; 2 the archive is missing, unreadable, invalid or unsafe (nothing is
written); 3 writing failed, for example on a full disk or a file size limit (the destination is
emptied again). Runs on the worker node under Python 3.6 with the standard library only.
"""
import argparse
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import zlib

INVALID_ARCHIVE_STATUS = 2
WRITE_FAILED_STATUS = 3

COPY_BLOCK_BYTES = 1024 * 1024
REQUIRED_FILE = "request.json"
REQUIRED_DIRECTORY = "PSets"


class UnsafeArchive(Exception):
    """The archive contains a member that could write outside the destination."""


class InvalidArchive(Exception):
    """The archive cannot be read or lacks request.json or PSets/."""


def normalized_name(member):
    name = member.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(name)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(name)
    return "/".join(parts)


def link_stays_inside(link_name, target, hard):
    """Return True when a link member's target resolves inside the destination."""
    if not target or target.startswith("/"):
        return False
    base = "" if hard else posixpath.dirname(link_name)
    resolved = posixpath.normpath(posixpath.join(base, target))
    return not (resolved == ".." or resolved.startswith("../"))


def scan(archive):
    """Return the members as (normalized name, member) pairs; raise on the first unsafe one."""
    checked = []
    symlinks = set()
    for member in archive.getmembers():
        name = normalized_name(member)
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise UnsafeArchive(member.name)
        if member.issym() or member.islnk():
            if not link_stays_inside(name, member.linkname, hard=member.islnk()):
                raise UnsafeArchive(member.name)
        if member.issym():
            symlinks.add(name)
        checked.append((name, member))

    for name, member in checked:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in symlinks:
                raise UnsafeArchive(member.name)
        if member.islnk() and posixpath.normpath(member.linkname) in symlinks:
            raise UnsafeArchive(member.name)

    names = {name for name, _ in checked}
    directories = {name for name, member in checked if member.isdir()}
    directories.update(name.rsplit("/", 1)[0] for name in names if "/" in name)
    if REQUIRED_FILE not in names:
        raise InvalidArchive("the request tarball has no %s at its top level" % REQUIRED_FILE)
    if REQUIRED_DIRECTORY not in directories or REQUIRED_DIRECTORY in symlinks:
        raise InvalidArchive("the request tarball has no %s/ directory at its top level" % REQUIRED_DIRECTORY)
    return checked


def write_members(archive, checked, destination):
    links = []
    for name, member in checked:
        path = os.path.join(destination, name)
        if member.isdir():
            os.makedirs(path, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if member.issym() or member.islnk():
            links.append((member, path))
            continue
        source = archive.extractfile(member)
        with open(path, "wb") as target:
            shutil.copyfileobj(source, target, COPY_BLOCK_BYTES)
        os.chmod(path, (member.mode & 0o755) | stat.S_IRUSR | stat.S_IWUSR)

    for member, path in links:
        if member.issym():
            os.symlink(member.linkname, path)
        else:
            os.link(os.path.join(destination, posixpath.normpath(member.linkname)), path)


def empty_directory(destination):
    for entry in os.listdir(destination):
        path = os.path.join(destination, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def unpack(tarball, destination):
    """Unpack tarball into the existing, empty destination directory; return an exit status."""
    try:
        with tarfile.open(tarball, "r:*") as archive:
            checked = scan(archive)
            try:
                write_members(archive, checked, destination)
            except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
                empty_directory(destination)
                sys.stderr.write("[unpack_sandbox] ERROR: writing %s into %s failed: %s\n"
                                 % (tarball, destination, error))
                return WRITE_FAILED_STATUS
    except UnsafeArchive as error:
        sys.stderr.write("[unpack_sandbox] ERROR: unsafe archive member %s in %s; nothing was unpacked\n"
                         % (error, tarball))
        return INVALID_ARCHIVE_STATUS
    except InvalidArchive as error:
        sys.stderr.write("[unpack_sandbox] ERROR: %s (%s); nothing was unpacked\n" % (error, tarball))
        return INVALID_ARCHIVE_STATUS
    except (tarfile.TarError, EOFError, OSError) as error:
        sys.stderr.write("[unpack_sandbox] ERROR: cannot read the request tarball %s: %s\n"
                         % (tarball, error))
        return INVALID_ARCHIVE_STATUS
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="Unpack the request tarball safely.")
    parser.add_argument("tarball", help="request_psets.tar.gz")
    parser.add_argument("destination", help="an existing, empty directory")
    options = parser.parse_args(argv)
    if not os.path.isdir(options.destination) or os.listdir(options.destination):
        sys.stderr.write("[unpack_sandbox] ERROR: destination %s must be an existing, empty directory\n"
                         % options.destination)
        return INVALID_ARCHIVE_STATUS
    return unpack(options.tarball, options.destination)


if __name__ == "__main__":
    sys.exit(main())
