#!/usr/bin/env python3
"""Stage a job's output files out to the site's storage element with WMCore's StageOutMgr.

Usage:
  stage_out.py --lfn LFN --local PATH [--lfn LFN --local PATH ...] [--retries 3] [--retry-pause 600]
               [--results FILE]
  stage_out.py --request request.json --work-dir DIR [--job-index N] [--results FILE]
               [--retries 3] [--retry-pause 600]

Algorithm:
 1. Parse the arguments (exit code 50113 for any mistake) and load exit_codes.txt next to this file.
 2. Bound every XRootD client call (XRD_* variables), so a dead server fails an attempt in seconds.
 3. Import WMCore from PYTHONPATH, else from a WMCore.zip next to this file (10043 when both fail).
 4. Check the SITECONF: site-local-config.xml, each stage-out method and its storage.json (60315).
 5. List the files: the --lfn/--local pairs, or in discovery mode every output file of each
    KeepOutput step, found in the step's FrameworkJobReport and given its unmerged LFN.
 6. Check every LFN with WMCore.Lexicon.lfn and against the storage.json rules, and compute each
    file's size and adler32 locally, all before the first copy.
 7. Copy the files one by one with StageOutMgr (its methods in order, each with --retries retries
    and --retry-pause seconds after every failed attempt, the last one included), handing it the
    adler32 so the storage element verifies it. WMCore's copy scripts run under bash, whatever
    /bin/sh is. Each reported success is checked by reading size and adler32 back.
 8. If a file fails, stop, remove every copy this run made and verify each removal (60307).
 9. Write the results JSON atomically (also on failure) and a summary on stdout; exit with the
    status that exit_codes.txt assigns to the code.

Runs on worker nodes with Python 3.6 and the standard library plus WMCore; the stageout_*.py modules
next to this file belong to it.
"""
import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time

from stageout_exitcodes import ExitCodes, ExitCodeTableError, StageOutExit, load_exit_codes

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
LOG = logging.getLogger("stage_out")
RESULTS_NAME = "stage_out_results.json"


class Terminated(BaseException):
    """SIGTERM arrived; a BaseException so that WMCore's `except Exception` blocks let it through."""


class CopyFailed(Exception):
    """One file could not be staged out, or its copy did not read back correctly."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises a BAD_ARGUMENTS error instead of printing usage and exiting with 2."""

    def error(self, message):
        raise StageOutExit("BAD_ARGUMENTS", "%s: %s (see --help)" % (self.prog, message))


def parse_arguments(argv):
    parser = ArgumentParser(
        prog="stage_out.py",
        description="Stage output files out with WMCore's StageOutMgr, all or nothing. Needs SITECONFIG_PATH "
                    "or WMAGENT_SITE_CONFIG_OVERRIDE, and WMCore (WMCore.zip) on PYTHONPATH.",
    )
    parser.add_argument("--lfn", action="append", default=[],
                        help="LFN of the next file (manual mode)")
    parser.add_argument("--local", action="append", default=[], metavar="PATH",
                        help="local path of the file for the --lfn at the same position (manual mode)")
    parser.add_argument("--request", metavar="FILE",
                        help="request.json of the StepChain (discovery mode)")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="job directory containing step<N>/ and job.json (discovery mode)")
    parser.add_argument("--job-index", type=int, metavar="N",
                        help="job index for the LFNs (default: job_index of <work dir>/job.json)")
    parser.add_argument("--results", metavar="FILE",
                        help="results JSON to write (default in discovery mode: <work dir>/%s; "
                             "none in manual mode)" % RESULTS_NAME)
    parser.add_argument("--retries", type=int, default=3, metavar="N",
                        help="retries per file and method after the first attempt (default 3)")
    parser.add_argument("--retry-pause", type=float, default=600, metavar="SECONDS",
                        help="seconds to wait after each failed attempt, the last one included (default 600)")
    args = parser.parse_args(argv)

    if args.retries < 0:
        parser.error("--retries must be 0 or more, not %d" % args.retries)
    if args.retry_pause < 0:
        parser.error("--retry-pause must be 0 or more seconds, not %s" % args.retry_pause)
    if args.request or args.work_dir:
        if args.lfn or args.local:
            parser.error("use either --lfn/--local pairs or --request with --work-dir, not both")
        if not (args.request and args.work_dir):
            parser.error("discovery mode needs both --request and --work-dir")
        if args.job_index is not None and args.job_index < 0:
            parser.error("--job-index must be 0 or more, not %d" % args.job_index)
    else:
        if not args.lfn:
            parser.error("give --lfn LFN --local PATH pairs, or --request and --work-dir")
        if len(args.lfn) != len(args.local):
            parser.error("%d --lfn but %d --local; give one --local per --lfn"
                         % (len(args.lfn), len(args.local)))
        if args.job_index is not None:
            parser.error("--job-index applies only with --request and --work-dir")
    return args


def configure_logging(redactor=None):
    formatter = logging.Formatter("[stage_out] %(asctime)s %(levelname)s %(message)s",
                                  "%Y-%m-%d %H:%M:%S GMT")
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    if redactor is not None:
        from stageout_transfer import RedactingFilter
        handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def banner(text):
    LOG.info("======== %s: %s ========", text, time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime()))


def import_wmcore():
    """Import the WMCore modules used here; fall back to a WMCore.zip next to this script."""
    try:
        import WMCore.Storage.StageOutMgr  # noqa: F401
        return
    except (ImportError, SyntaxError) as exc:
        first_error = exc
    bundle = os.path.join(SCRIPT_DIR, "WMCore.zip")
    if os.path.isfile(bundle) and bundle not in sys.path:
        sys.path.insert(0, bundle)
        for name in [module for module in sys.modules if module == "WMCore" or module.startswith("WMCore.")]:
            del sys.modules[name]
        try:
            import WMCore.Storage.StageOutMgr  # noqa: F401,F811
            return
        except (ImportError, SyntaxError) as exc:
            first_error = exc
    raise StageOutExit("WMCORE_IMPORT_FAILED",
                       "cannot import WMCore (%s); put WMCore.zip on PYTHONPATH or next to stage_out.py, "
                       "and the py3-future packages (future, past) on PYTHONPATH" % first_error)


def manual_files(args):
    return [{"step": None, "module": None, "local_path": os.path.abspath(local), "lfn": lfn}
            for lfn, local in zip(args.lfn, args.local)]


def check_plan(files):
    """Check LFN syntax and uniqueness, and that every local file exists; then add size and adler32."""
    from stageout_transfer import file_size_and_adler32
    from WMCore.Lexicon import lfn as check_lfn_syntax

    seen = set()
    for entry in files:
        lfn = entry["lfn"]
        try:
            valid = check_lfn_syntax(lfn) and "//" not in lfn
        except AssertionError:
            valid = False
        if not valid:
            raise StageOutExit("BAD_ARGUMENTS", "invalid LFN %s: WMCore's LFN check (WMCore.Lexicon.lfn) "
                                                "rejects it; use the CMS layout, for example "
                                                "/store/user/<name>/<PrimaryDataset>/<dataset>/<file>.root, "
                                                "with no '//'" % lfn)
        if lfn in seen:
            raise StageOutExit("BAD_ARGUMENTS",
                               "LFN %s is given for two files; every file needs its own LFN" % lfn)
        seen.add(lfn)

    for entry in files:
        if not os.path.isfile(entry["local_path"]):
            raise StageOutExit("OUTPUT_FILE_MISSING", "local file %s (for LFN %s): file not found"
                               % (entry["local_path"], entry["lfn"]))
        try:
            entry["size"], entry["adler32"] = file_size_and_adler32(entry["local_path"])
        except OSError as exc:
            raise StageOutExit("OUTPUT_FILE_MISSING",
                               "local file %s cannot be read: %s" % (entry["local_path"], exc)) from None
        entry.update(pfn=None, pnn=None, command=None)


def first_line(exc):
    text = str(getattr(exc, "message", None) or exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else exc.__class__.__name__


def stage_one(manager, runner, entry):
    """Copy one file with StageOutMgr and read the copy back; record pfn, pnn and command in entry."""
    from stageout_transfer import verify_copy

    attempts_before = len(runner.attempts)
    request = {"LFN": entry["lfn"], "PFN": entry["local_path"], "Checksums": {"adler32": entry["adler32"]}}
    try:
        result = manager(request)
    except Exception as exc:  # StageOutMgr re-raises whatever its last method raised.
        attempts = runner.attempts[attempts_before:]
        failed = [attempt for attempt in attempts if attempt[0] != 0]
        detail = ("last copy command exited %s: %s" % failed[-1]) if failed else first_line(exc)
        raise CopyFailed("%d copy attempt(s) failed; %s" % (len(failed), detail)) from None

    entry.update(pfn=result["PFN"], pnn=result["PNN"], command=result["StageOutCommand"])
    problem = verify_copy(entry["pfn"], entry["size"], entry["adler32"])
    if problem:
        raise CopyFailed("WMCore reported %s as staged to %s, but %s" % (entry["lfn"], entry["pfn"], problem))
    LOG.info("staged %s to %s (%s, %d bytes, adler32 %s, read back)", entry["local_path"], entry["pfn"],
             entry["pnn"], entry["size"], entry["adler32"])


def remove_staged(files):
    """Remove every copy this run made; return the LFNs whose removal was verified."""
    from stageout_transfer import remove_copy
    from WMCore.Storage.Registry import retrieveStageOutImpl

    removed = []
    for entry in files:
        if not entry.get("pfn"):
            continue
        LOG.info("removing %s (LFN %s)", entry["pfn"], entry["lfn"])
        if remove_copy(entry["pfn"], entry["command"], retrieveStageOutImpl):
            removed.append(entry["lfn"])
            entry.update(pfn=None, pnn=None, command=None)
        else:
            LOG.error("copy %s could not be removed; it is still listed in the results", entry["pfn"])
    return removed


def copy_all(args, files):
    """Stage every file out; on the first failure remove what this run staged and raise."""
    from stageout_transfer import CopyCommandRunner, SecretRedactor
    from WMCore.Storage.StageOutMgr import StageOutMgr

    runner = CopyCommandRunner(SecretRedactor(os.environ))
    runner.install()
    try:
        manager = StageOutMgr()
    except Exception as exc:  # WMCore raises SiteConfigError, StageOutInitError or RuntimeError here.
        raise StageOutExit("STAGEOUT_INIT_FAILED",
                           "WMCore StageOutMgr rejected the SITECONF: %s" % first_line(exc)) from None
    manager.numberOfRetries = args.retries
    manager.retryPauseTime = args.retry_pause

    removed = []
    current = None
    try:
        for current in files:
            banner("copying %s" % current["lfn"])
            stage_one(manager, runner, current)
        return removed
    except (Exception, Terminated) as exc:
        # A second SIGTERM must not interrupt the removal; HTCondor's later SIGKILL still ends the job.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        banner("removing the copies of this run")
        removed.extend(remove_staged(files))
        if isinstance(exc, Terminated):
            error = StageOutExit("TERMINATED_BY_SIGNAL", "terminated by SIGTERM while staging %s; removed %d "
                                 "staged file(s)" % (current["lfn"], len(removed)))
        else:
            if not isinstance(exc, CopyFailed):
                LOG.exception("unexpected error while staging %s", current["lfn"])
            reason = str(exc) if isinstance(exc, CopyFailed) else "internal error: %r" % exc
            error = StageOutExit("STAGEOUT_FAILED", "stage-out of %s (%s) failed: %s"
                                 % (current["lfn"], current["local_path"], reason))
        error.removed = removed
        raise error from None


def write_results(path, document):
    """Write the results JSON atomically: a temporary file in the same directory, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, partial = tempfile.mkstemp(prefix=".stage_out_results.", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as target:
            json.dump(document, target, indent=2, sort_keys=True)
            target.write("\n")
            target.flush()
            os.fsync(target.fileno())
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def print_summary(code, status, message, files, removed):
    if code == 0:
        print("stage-out succeeded: %d file(s) staged" % len(files))
    else:
        print("stage-out FAILED with code %s (exit status %d): %s" % (code, status, message))
    for entry in files:
        where = "step %s %s" % (entry["step"], entry["module"]) if entry["step"] is not None else "file"
        if entry.get("pfn"):
            print("  staged   %s %s -> %s at %s (%d bytes, adler32 %s)" % (
                where, entry["local_path"], entry["pfn"], entry["pnn"], entry["size"], entry["adler32"]))
        elif entry["lfn"] not in removed:
            print("  not on storage  %s %s (LFN %s)" % (where, entry["local_path"], entry["lfn"]))
    for lfn in removed:
        print("  removed  %s" % lfn)


def on_sigterm(signum, frame):
    raise Terminated()


def check_results_path(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise StageOutExit("BAD_ARGUMENTS", "results file %s: directory %s does not exist or is not writable"
                           % (path, directory))


def run(args, results_path):
    """Run steps 2 to 8; return (code, message, files, removed).

    `files` stays empty when the run ends before the copies start.
    """
    files = []
    try:
        if results_path:
            check_results_path(results_path)
        from stageout_transfer import SecretRedactor, apply_xrootd_bounds

        apply_xrootd_bounds(os.environ)
        banner("importing WMCore")
        import_wmcore()
        configure_logging(SecretRedactor(os.environ))
        from stageout_siteconf import check_lfns_mapped, check_site_conf

        banner("checking the SITECONF")
        site_conf = check_site_conf(os.environ)
        methods = ", ".join("%s %s via %s (%s)" % (method.volume, method.protocol, method.command, method.pnn)
                            for method in site_conf.methods)
        LOG.info("site-local-config %s: site %s, stage-out methods: %s", site_conf.config_path,
                 site_conf.site, methods)

        banner("listing the files")
        if args.request:
            from stageout_discovery import discover_files, load_json_object, read_job_index

            request = load_json_object(args.request, "request")
            job_index = read_job_index(args.work_dir, args.job_index)
            planned = discover_files(request, args.request, args.work_dir, job_index)
        else:
            planned = manual_files(args)
        check_plan(planned)
        check_lfns_mapped(site_conf, [entry["lfn"] for entry in planned])
        files = planned
        for entry in files:
            LOG.info("to stage: %s -> %s (%d bytes, adler32 %s)", entry["local_path"], entry["lfn"],
                     entry["size"], entry["adler32"])

        removed = copy_all(args, files)
        return 0, "", files, removed
    except StageOutExit as exc:
        return exc.code, exc.message, files, getattr(exc, "removed", [])
    except Terminated:
        return "TERMINATED_BY_SIGNAL", "terminated by SIGTERM before any copy", files, []
    except Exception:  # A fault of this script, not of the input: keep the traceback in the log.
        LOG.exception("internal error of stage_out.py")
        return "WRAPPER_INTERNAL_ERROR", "internal error of stage_out.py (traceback in the log)", files, []


def main(argv=None):
    configure_logging()
    try:
        codes = ExitCodes(load_exit_codes())
    except ExitCodeTableError as exc:
        LOG.error("%s; reinstall the kit's ep_scripts", exc)
        return 1

    try:
        args = parse_arguments(argv)
    except StageOutExit as exc:
        LOG.error("%s", exc.message)
        return codes.exit_status(exc.code)

    results_path = args.results
    if results_path is None and args.work_dir:
        results_path = os.path.join(args.work_dir, RESULTS_NAME)

    signal.signal(signal.SIGTERM, on_sigterm)
    banner("stage-out started")
    code, message, files, removed = run(args, results_path)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from stageout_transfer import SecretRedactor

    message = SecretRedactor(os.environ).redact(message)
    number = codes.number(code)
    status = codes.exit_status(code)
    if number:
        LOG.error("%s (code %d)", message, number)

    if results_path:
        document = {"exit_code": number, "exit_message": message, "files": files, "removed": removed}
        try:
            write_results(results_path, document)
        except OSError as exc:
            LOG.error("cannot write the results file %s: %s", results_path, exc)
            if not number:
                number, status = codes.number("STAGEOUT_FAILED"), codes.exit_status("STAGEOUT_FAILED")
    print_summary(number, status, message, files, removed)
    banner("stage-out finished with code %d (exit status %d)" % (number, status))
    return status


if __name__ == "__main__":
    sys.exit(main())
