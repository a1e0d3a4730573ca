#!/usr/bin/env python3
"""Write the SITECONF of the local test site: JobConfig/site-local-config.xml and storage.json.

The files follow the formats that wmcore 2.4.5.9 reads (WMCore.Storage.SiteLocalConfig and
WMCore.Storage.RucioFileCatalog), so SITECONFIG_PATH=<output> is all that StageOutMgr needs.
The site has two storage volumes, both with the site name as their Rucio storage element (PNN):

  <site>_XRootD  protocol XRootD, stage-out command xrdcp,
                 LFN /store/x -> root://127.0.0.1:<port>//store/x
  <site>_POSIX   protocol POSIX, stage-out command cp,
                 LFN /store/x -> <posix-root>/store/x

By default stage-out tries XRootD first and falls back to POSIX; the options --posix-first,
--xrootd-only and --posix-only change the list of stage-out methods. Runs on Python 3.6 with the
standard library only. Exit status: 0 on success, 2 on invalid arguments, 1 when writing failed.
"""
import argparse
import json
import os
import re
import string
import sys
import tempfile
from xml.sax.saxutils import quoteattr

PROGRAM = "make_siteconf.py"
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "SITECONF", "JobConfig", "site-local-config.xml.template")
XROOTD_HOST = "127.0.0.1"

# CMS site names: tier, two-letter country code, then a free-form part.
SITE_NAME = re.compile(r"^T[0-3]_[A-Z]{2}_[A-Za-z0-9_-]+$")
# WMCore's cp backend pastes PFNs unquoted into a /bin/sh script, so the POSIX root may contain only
# characters that the shell takes literally.
SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+,:@=-]*$")

# Stage-out method lists, in the order WMCore tries them.
METHOD_ORDERS = {
    "xrootd-first": ("XRootD", "POSIX"),
    "posix-first": ("POSIX", "XRootD"),
    "xrootd-only": ("XRootD",),
    "posix-only": ("POSIX",),
}
COMMANDS = {"XRootD": "xrdcp", "POSIX": "cp"}


class UsageError(Exception):
    """An invalid command-line value; the message names the value and the fix."""


class OneLineParser(argparse.ArgumentParser):
    """Report argument errors as one line instead of argparse's usage block."""

    def error(self, message):
        raise UsageError(message)


def parse_arguments(argv):
    parser = OneLineParser(
        prog=PROGRAM,
        description="Write site-local-config.xml and storage.json for the local test site.")
    parser.add_argument("--output", required=True,
                        help="SITECONF directory to write (created when missing); use it as SITECONFIG_PATH")
    parser.add_argument("--xrootd-port", required=True,
                        help="TCP port of the XRootD server on %s" % XROOTD_HOST)
    parser.add_argument("--posix-root", required=True,
                        help="absolute directory under which the POSIX volume stores /store/...")
    parser.add_argument("--site", default="T2_XX_Local",
                        help="CMS site name, also the PNN of both volumes (default: %(default)s)")
    order = parser.add_mutually_exclusive_group()
    for name, volumes in sorted(METHOD_ORDERS.items()):
        order.add_argument("--" + name, dest="order", action="store_const", const=name,
                           help="stage-out methods: %s" % ", then ".join(COMMANDS[v] for v in volumes))
    parser.set_defaults(order="xrootd-first")
    args = parser.parse_args(argv)
    validate(args)
    return args


def validate(args):
    try:
        port = int(args.xrootd_port)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise UsageError("invalid --xrootd-port %r: give a TCP port number from 1 to 65535"
                         % args.xrootd_port)
    args.xrootd_port = port

    if not SITE_NAME.match(args.site):
        raise UsageError("invalid --site %r: give a CMS site name such as T2_XX_Local" % args.site)

    if not args.posix_root.startswith("/"):
        raise UsageError("invalid --posix-root %r: give an absolute path" % args.posix_root)
    if not SAFE_PATH.match(args.posix_root):
        raise UsageError("invalid --posix-root %r: use only letters, digits and . _ / + , : @ = -"
                         % args.posix_root)
    if os.path.exists(args.posix_root) and not os.path.isdir(args.posix_root):
        raise UsageError("invalid --posix-root %r: it exists and is not a directory" % args.posix_root)
    args.posix_root = os.path.normpath(args.posix_root)

    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise UsageError("invalid --output %r: it exists and is not a directory" % args.output)


def volume_name(site, protocol):
    return "%s_%s" % (site, protocol)


def storage_description(args):
    """Build the storage.json entries: one volume per protocol, each mapping LFNs by prefix."""
    # WMCore appends "/" and the LFN without its leading slash to the prefix, so these prefixes
    # give root://127.0.0.1:PORT//store/... and <posix-root>/store/...
    prefixes = {
        "XRootD": "root://%s:%d/" % (XROOTD_HOST, args.xrootd_port),
        "POSIX": "" if args.posix_root == "/" else args.posix_root,
    }
    volumes = []
    for protocol in ("XRootD", "POSIX"):
        volumes.append({
            "site": args.site,
            "volume": volume_name(args.site, protocol),
            "protocols": [{"protocol": protocol, "access": "site-rw", "prefix": prefixes[protocol]}],
            "type": "DISK",
            "rse": args.site,
            "fts": [],
        })
    return volumes


def site_local_config(args):
    protocols = METHOD_ORDERS[args.order]
    methods = []
    for protocol in protocols:
        methods.append("      <method volume=%s protocol=%s command=%s/>" % (
            quoteattr(volume_name(args.site, protocol)), quoteattr(protocol), quoteattr(COMMANDS[protocol])))
    with open(TEMPLATE) as template_file:
        template = string.Template(template_file.read())
    return template.substitute(
        site=args.site,
        read_volume=volume_name(args.site, protocols[0]),
        read_protocol=protocols[0],
        local_command=COMMANDS[protocols[0]],
        stage_out_methods="\n".join(methods),
    )


def write_atomically(path, text):
    """Write text to path through a temporary file in the same directory, so no reader sees half a file."""
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv=None):
    try:
        args = parse_arguments(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        sys.stderr.write("%s: error: %s\n" % (PROGRAM, error))
        return 2

    try:
        xml_text = site_local_config(args)
        json_text = json.dumps(storage_description(args), indent=2) + "\n"
        os.makedirs(os.path.join(args.output, "JobConfig"), exist_ok=True)
        write_atomically(os.path.join(args.output, "storage.json"), json_text)
        write_atomically(os.path.join(args.output, "JobConfig", "site-local-config.xml"), xml_text)
    except OSError as error:
        sys.stderr.write("%s: error: cannot write SITECONF in %s: %s\n" % (PROGRAM, args.output, error))
        return 1

    sys.stderr.write("[make_siteconf] wrote %s for %s, stage-out methods: %s\n" % (
        args.output, args.site, ", ".join(COMMANDS[p] for p in METHOD_ORDERS[args.order])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
