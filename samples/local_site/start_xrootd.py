#!/usr/bin/env python3
"""Start or stop the XRootD server that is the storage element of the local test site.

  start_xrootd.py start --work-dir DIR [--timeout SECONDS]
  start_xrootd.py stop --work-dir DIR [--timeout SECONDS]

start creates DIR/export and DIR/run. DIR/export is what the server exports as "/", so
root://127.0.0.1:PORT//store/x is DIR/export/store/x. DIR/run gets the configuration, log, PID and
admin files. It then starts Debian's xrootd with adler32 checksums on a free port that the server
chooses, and waits until the server accepts connections on 127.0.0.1. Last, it prints shell
assignments for `eval`: XROOTD_PORT, XROOTD_PID, XROOTD_EXPORT and XROOTD_LOG.

xrootd 5.5.3 exits when started as root, so as root the server runs as the packaged `xrootd` user
and DIR (made mode 0755) must be reachable by that user; as another user it runs as that user.

stop sends SIGTERM to the PID that start recorded in DIR/run (after checking that the PID is still
this server), waits for it to exit and sends SIGKILL when the timeout passes. It never looks
processes up by name. Stopping a server that has already exited, or was already stopped, succeeds.

Runs on Python 3.6 with the standard library only. Exit status: 0 on success, 1 when the server
cannot be started or stopped, 2 on invalid arguments.
"""
import argparse
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

PROGRAM = "start_xrootd.py"
HOST = "127.0.0.1"
SERVER_USER = "xrootd"
INSTANCE = "localse"
INSTALL_HINT = "apt-get install xrootd-server xrootd-client"
# The last line xrootd logs once it listens, for example
# "------ xrootd localse@vm:35771 initialization completed."
READY_LINE = re.compile(r"^------ xrootd %s@\S+:(\d+) initialization completed\.$" % INSTANCE, re.MULTILINE)

CONFIG = """\
# Written by {program}: the XRootD storage element of the local test site.
all.export /
oss.localroot {export}
xrootd.chksum adler32
all.adminpath {run}
all.pidpath {run}
# Any free port; the log names the chosen one.
xrd.port any
# NOTE: xrootd 5.5.3 has no directive or option that chooses the listening address, so the server
# listens on every interface. This rule makes it reset every connection that does not come from
# 127.0.0.1.
xrd.allow host {host}
"""


def log(message):
    sys.stderr.write("[start_xrootd] %s\n" % message)


class StartError(Exception):
    """Failure to start or stop the server; the message names the cause and the fix."""


class Layout(object):
    """Paths of one server under its work directory."""

    def __init__(self, work_dir):
        self.work_dir = os.path.abspath(work_dir)
        self.export = os.path.join(self.work_dir, "export")
        self.run = os.path.join(self.work_dir, "run")
        self.config = os.path.join(self.run, "xrootd.cfg")
        self.pid_file = os.path.join(self.run, "server.pid")
        self.console = os.path.join(self.run, "console.log")
        # xrootd inserts the instance name: -l run/xrootd.log writes run/<instance>/xrootd.log.
        self.log = os.path.join(self.run, INSTANCE, "xrootd.log")


def server_account():
    """Return (uid, gid) to run xrootd with, or None to run it as the current user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise StartError("user %s not found; xrootd does not run as root, and the xrootd-server "
                         "package creates that user: %s" % (SERVER_USER, INSTALL_HINT)) from None
    return entry.pw_uid, entry.pw_gid


def check_reachable(path, uid, gid):
    """Raise StartError unless user uid can search every directory above path."""
    directory = os.path.dirname(path)
    while True:
        info = os.stat(directory)
        if info.st_uid == uid:
            searchable = info.st_mode & 0o100
        elif info.st_gid == gid:
            searchable = info.st_mode & 0o010
        else:
            searchable = info.st_mode & 0o001
        if not searchable:
            raise StartError("work directory %s is not reachable by user %s because %s is not searchable "
                             "by it; use a directory under /tmp, or run chmod o+x %s"
                             % (path, SERVER_USER, directory, directory))
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent


def prepare(layout, account):
    for directory in (layout.work_dir, layout.export, layout.run):
        os.makedirs(directory, exist_ok=True)
    if os.path.exists(layout.pid_file):
        raise StartError("%s already contains a running server (PID file %s); "
                         "stop it first with: %s stop --work-dir %s"
                         % (layout.work_dir, layout.pid_file, PROGRAM, layout.work_dir))
    with open(layout.config, "w") as config:
        config.write(CONFIG.format(program=PROGRAM, export=layout.export, run=layout.run, host=HOST))
    if account is not None:
        uid, gid = account
        os.chmod(layout.work_dir, 0o755)
        check_reachable(layout.work_dir, uid, gid)
        for directory in (layout.export, layout.run):
            os.chown(directory, uid, gid)


def server_command(xrootd, layout, account):
    command = [xrootd, "-c", layout.config, "-l", os.path.join(layout.run, "xrootd.log"),
               "-s", os.path.join(layout.run, "xrootd.pid"), "-n", INSTANCE]
    if account is None:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise StartError("setpriv not found; it switches to user %s as root (apt-get install util-linux)"
                         % SERVER_USER)
    # setpriv replaces itself with xrootd, so the PID of the child is the server's PID.
    uid, gid = account
    return [setpriv, "--reuid", str(uid), "--regid", str(gid), "--init-groups"] + command


def read_log(layout):
    try:
        with open(layout.log, errors="replace") as log_file:
            return log_file.read()
    except FileNotFoundError:
        return ""


def tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])


def accepts_connections(port):
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return True
    except OSError:
        return False


def wait_until_ready(process, layout, timeout):
    """Wait for the server's ready line and a TCP connection on 127.0.0.1; return the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(layout.console, errors="replace") as console:
                output = console.read()
            raise StartError("xrootd exited with status %s during start; its last output:\n%s"
                             % (process.returncode, tail(output + "\n" + read_log(layout))))
        match = READY_LINE.search(read_log(layout))
        if match and accepts_connections(int(match.group(1))):
            return int(match.group(1))
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise StartError("xrootd did not accept connections on %s within %s s (killed PID %d); "
                     "its log %s ends with:\n%s"
                     % (HOST, timeout, process.pid, layout.log, tail(read_log(layout))))


def start(layout, timeout):
    xrootd = shutil.which("xrootd")
    if xrootd is None:
        raise StartError("xrootd not found on PATH; install it with: %s" % INSTALL_HINT)
    account = server_account()
    prepare(layout, account)
    command = server_command(xrootd, layout, account)

    with open(layout.console, "w") as console:
        process = subprocess.Popen(command, cwd=layout.run, stdin=subprocess.DEVNULL, stdout=console,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    port = wait_until_ready(process, layout, timeout)
    with open(layout.pid_file, "w") as pid_file:
        pid_file.write("%d\n" % process.pid)

    log("xrootd PID %d serves %s on %s:%d (log %s)" % (process.pid, layout.export, HOST, port, layout.log))
    for name, value in (("XROOTD_PORT", port), ("XROOTD_PID", process.pid),
                        ("XROOTD_EXPORT", layout.export), ("XROOTD_LOG", layout.log)):
        print("%s=%s" % (name, shlex.quote(str(value))))


def process_state(pid):
    """Return the state letter of a process from /proc (Z for a zombie), or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            # The command name in brackets may hold spaces; the state follows the closing bracket.
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def is_this_server(pid, layout):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
            arguments = cmdline.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return layout.config.encode() in arguments


def wait_for_exit(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_state(pid) in (None, "Z"):
            return True
        time.sleep(0.1)
    return False


def stop(layout, timeout):
    if not os.path.exists(layout.config):
        raise StartError("%s is not the work directory of a server (no %s)"
                         % (layout.work_dir, layout.config))
    try:
        with open(layout.pid_file) as pid_file:
            pid = int(pid_file.read())
    except FileNotFoundError:
        log("no running server recorded in %s; nothing to stop" % layout.work_dir)
        return
    except ValueError:
        raise StartError("%s does not contain a PID; remove it and stop the server by hand"
                         % layout.pid_file) from None

    if process_state(pid) in (None, "Z") or not is_this_server(pid, layout):
        log("xrootd PID %d of %s had already exited" % (pid, layout.work_dir))
    else:
        os.kill(pid, signal.SIGTERM)
        if not wait_for_exit(pid, timeout):
            log("xrootd PID %d still running %s s after SIGTERM; sending SIGKILL" % (pid, timeout))
            os.kill(pid, signal.SIGKILL)
            if not wait_for_exit(pid, 5):
                raise StartError("xrootd PID %d did not exit after SIGKILL" % pid)
        log("stopped xrootd PID %d" % pid)
    os.unlink(layout.pid_file)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog=PROGRAM,
                                     description="Start or stop the local XRootD storage element.")
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--work-dir", required=True,
                        help="directory for the exported files (export/) and the server's own files (run/)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for the server to accept connections, or to exit "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("invalid --timeout %s: give a positive number of seconds" % args.timeout)
    return args


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    layout = Layout(args.work_dir)
    try:
        if args.action == "start":
            start(layout, args.timeout)
        else:
            stop(layout, args.timeout)
    except (StartError, OSError) as error:
        log("error: %s" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
