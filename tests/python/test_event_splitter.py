"""The event splitter CLI: job files, tweaks, the PSet tarball, input validation and all-or-nothing output."""
import json
import os
import pty
import re
import resource
import signal
import subprocess
import sys
import tarfile
import time

import pytest
from micro_agent import event_splitter

UINT32_VALUE = re.compile(r"customTypeCms\.untracked\.uint32\((\d+)\)\Z")
MAX_EVENTS_VALUE = re.compile(r"customTypeCms\.untracked\.PSet\(input=cms\.untracked\.int32\((-?\d+)\)\)\Z")


def _job(output_dir, index):
    return json.loads((output_dir / ("job%d.json" % index)).read_text())


def _job_files(output_dir):
    return sorted(path.name for path in output_dir.iterdir() if path.name.startswith("job"))


def _int_argument(value):
    match = UINT32_VALUE.match(value) or MAX_EVENTS_VALUE.match(value)
    assert match, value
    return int(match.group(1))


def _job_ranges(output_dir, job_count):
    """Return (first event, last event, first lumi, last lumi) per job, read from the written tweaks."""
    ranges = []
    for index in range(1, job_count + 1):
        step1 = _job(output_dir, index)["tweaks"]["1"]
        first_event = _int_argument(step1["process.source.firstEvent"])
        events = _int_argument(step1["process.maxEvents"])
        first_lumi = _int_argument(step1["process.source.firstLuminosityBlock"])
        per_lumi = _int_argument(step1["process.source.numberEventsInLuminosityBlock"])
        lumis = -(-events // per_lumi)
        ranges.append((first_event, first_event + events - 1, first_lumi, first_lumi + lumis - 1))
    return ranges


def _leftovers(directory):
    """Return entries that the splitter would have left beside its output directory."""
    return sorted(name for name in os.listdir(directory) if name.startswith(".out-"))


# ---- the real request ----

@pytest.fixture(scope="module")
def real_output(real_request_dir, tmp_path_factory, event_splitter_cli):
    output_dir = tmp_path_factory.mktemp("real") / "out"
    result = event_splitter_cli(["--request", real_request_dir / "request.json",
                                 "--splitting", real_request_dir / "splitting.json",
                                 "--psets", real_request_dir / "PSets", "--output-dir", output_dir])
    assert result.returncode == 0, result.stderr
    return output_dir


def test_real_request_job_count(real_output):
    assert len(_job_files(real_output)) == 18073


def test_real_request_last_job(real_output):
    step1 = _job(real_output, 18073)["tweaks"]["1"]

    assert step1["process.maxEvents"] == "customTypeCms.untracked.PSet(input=cms.untracked.int32(240))"
    assert step1["process.source.firstEvent"] == "customTypeCms.untracked.uint32(14999761)"
    assert step1["process.source.firstLuminosityBlock"] == "customTypeCms.untracked.uint32(18073)"


def test_real_request_job_index(real_output):
    assert _job(real_output, 18073)["job_index"] == 18073


def test_real_request_chained_inputs(real_output):
    tweaks = _job(real_output, 1)["tweaks"]
    expected = {"2": "step1/RAWSIMoutput", "3": "step2/RAWSIMoutput", "4": "step3/RAWSIMoutput",
                "5": "step4/AODSIMoutput", "6": "step5/MINIAODSIMoutput"}

    assert sorted(tweaks) == ["1", "2", "3", "4", "5", "6"]
    for step, source in expected.items():
        value = "customTypeCms.untracked.vstring(['file:../%s.root'])" % source
        assert tweaks[step]["process.source.fileNames"] == value, step
        assert tweaks[step]["process.maxEvents"] == (
            "customTypeCms.untracked.PSet(input=cms.untracked.int32(-1))"), step


def test_real_request_output_file_names(real_output):
    tweaks = _job(real_output, 7)["tweaks"]
    read_later = {"1": "RAWSIMoutput", "2": "RAWSIMoutput", "3": "RAWSIMoutput", "4": "AODSIMoutput",
                  "5": "MINIAODSIMoutput"}

    for step, module in read_later.items():
        key = "process.%s.fileName" % module
        assert tweaks[step][key] == "customTypeCms.untracked.string('file:%s.root')" % module, step
    assert not [key for key in tweaks["6"] if key.endswith(".fileName")]
    assert "process.LHEoutput.fileName" not in tweaks["1"]


def test_real_request_threads(real_output):
    tweaks = _job(real_output, 2)["tweaks"]

    for step in tweaks:
        assert tweaks[step]["process.options.numberOfThreads"] == "customTypeCms.untracked.uint32(4)", step
        assert tweaks[step]["process.options.numberOfStreams"] == "customTypeCms.untracked.uint32(4)", step


def test_tarball_members(real_output, real_request_dir):
    with tarfile.open(real_output / "request_psets.tar.gz") as archive:
        members = archive.getmembers()
    psets = sorted("PSets/" + path.name for path in (real_request_dir / "PSets").iterdir())

    assert [member.name for member in members] == ["request.json", "PSets"] + psets
    assert members[1].isdir()
    assert members[1].mode == 0o755
    for member in members[:1] + members[2:]:
        assert member.isfile(), member.name
        assert member.mode == 0o644, member.name


def test_tarball_member_names_safe(real_output):
    with tarfile.open(real_output / "request_psets.tar.gz") as archive:
        names = archive.getnames()

    for name in names:
        assert not name.startswith("/"), name
        assert ".." not in name.split("/"), name


def test_tarball_contents(real_output, real_request_dir):
    with tarfile.open(real_output / "request_psets.tar.gz") as archive:
        request_data = archive.extractfile("request.json").read()
        pset_name = "PSet_cmsRun2_SMP-RunIISummer20UL17pp5TeVDIGI-00006_0.py"
        pset_data = archive.extractfile("PSets/" + pset_name).read()

    assert request_data == (real_request_dir / "request.json").read_bytes()
    assert pset_data == (real_request_dir / "PSets" / pset_name).read_bytes()


def test_output_has_no_other_files(real_output):
    names = set(os.listdir(real_output))

    assert names - set(_job_files(real_output)) == {"request_psets.tar.gz"}


def test_summary_without_output_dir(real_request_dir, event_splitter_cli):
    result = event_splitter_cli(["--request", real_request_dir / "request.json",
                                 "--splitting", real_request_dir / "splitting.json"])

    assert result.returncode == 0
    assert result.stdout.startswith("jobs: 18073 ")
    assert re.search(r"^\s+1\s+1\s+830\s+1\s+1\s+1$", result.stdout, re.MULTILINE)


# ---- tweak types and numbers ----

def test_multicore_gives_uint32_threads(request_files, event_splitter_cli):
    request_files.request["Multicore"] = 4
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    tweaks = _job(request_files.output_dir, 1)["tweaks"]
    for step in ("1", "2", "3"):
        assert tweaks[step]["process.options.numberOfThreads"] == "customTypeCms.untracked.uint32(4)"
        assert tweaks[step]["process.options.numberOfStreams"] == "customTypeCms.untracked.uint32(4)"


def test_step_multicore_overrides_top(request_files, event_splitter_cli):
    request_files.request["Multicore"] = 8
    request_files.request["EventStreams"] = 2
    request_files.request["Step2"]["Multicore"] = 1
    request_files.request["Step3"]["EventStreams"] = 0
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    tweaks = _job(request_files.output_dir, 1)["tweaks"]
    threads = [tweaks[s]["process.options.numberOfThreads"] for s in ("1", "2", "3")]
    streams = [tweaks[s]["process.options.numberOfStreams"] for s in ("1", "2", "3")]
    assert threads == ["customTypeCms.untracked.uint32(%d)" % n for n in (8, 1, 8)]
    assert streams == ["customTypeCms.untracked.uint32(%d)" % n for n in (2, 2, 8)]


def test_no_multicore_means_one_thread(request_files, event_splitter_cli):
    del request_files.request["Multicore"]
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    step1 = _job(request_files.output_dir, 1)["tweaks"]["1"]
    assert step1["process.options.numberOfThreads"] == "customTypeCms.untracked.uint32(1)"
    assert step1["process.options.numberOfStreams"] == "customTypeCms.untracked.uint32(1)"


def test_tweak_value_types(request_files, event_splitter_cli):
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    step1 = _job(request_files.output_dir, 3)["tweaks"]["1"]
    assert MAX_EVENTS_VALUE.match(step1["process.maxEvents"])
    for key in ("firstEvent", "firstLuminosityBlock", "firstRun", "numberEventsInLuminosityBlock"):
        assert UINT32_VALUE.match(step1["process.source." + key]), key


def test_tweak_parentheses_balanced(request_files, event_splitter_cli):
    request_files.request["Multicore"] = 4
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    for index in range(1, 11):
        for step, tweaks in _job(request_files.output_dir, index)["tweaks"].items():
            for key, value in tweaks.items():
                assert value.count("(") == value.count(")"), (index, step, key)
                assert value.startswith("customTypeCms."), (index, step, key)


def test_input_step_not_previous(tmp_path, event_splitter_cli):
    from fixtures.splitter import RequestFiles

    files = RequestFiles(tmp_path / "request", steps=3,
                         inputs={2: (1, "RAWSIMoutput"), 3: (1, "LHEoutput")}).write()

    assert event_splitter_cli(files.arguments()).returncode == 0
    tweaks = _job(files.output_dir, 1)["tweaks"]
    assert tweaks["3"]["process.source.fileNames"] == (
        "customTypeCms.untracked.vstring(['file:../step1/LHEoutput.root'])")
    assert tweaks["1"]["process.LHEoutput.fileName"] == (
        "customTypeCms.untracked.string('file:LHEoutput.root')")
    assert tweaks["1"]["process.RAWSIMoutput.fileName"] == (
        "customTypeCms.untracked.string('file:RAWSIMoutput.root')")
    assert not [key for key in tweaks["2"] if key.endswith(".fileName")]


# ---- uneven splits, floats and strings ----

def test_uneven_split_ranges(request_files, event_splitter_cli):
    request_files.request["Step1"]["RequestNumEvents"] = 1050
    request_files.splitting[0]["splitParams"].update(events_per_job=500, events_per_lumi=100)
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    assert _job_ranges(request_files.output_dir, 3) == [(1, 500, 1, 5), (501, 1000, 6, 10),
                                                        (1001, 1050, 11, 11)]
    assert _job_files(request_files.output_dir) == ["job1.json", "job2.json", "job3.json"]
    last = _job(request_files.output_dir, 3)["tweaks"]["1"]
    assert last["process.maxEvents"] == "customTypeCms.untracked.PSet(input=cms.untracked.int32(50))"


def test_lumis_not_dividing_job(request_files, event_splitter_cli):
    request_files.request["Step1"]["RequestNumEvents"] = 500
    request_files.splitting[0]["splitParams"].update(events_per_job=250, events_per_lumi=100)
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    assert _job_ranges(request_files.output_dir, 2) == [(1, 250, 1, 3), (251, 500, 4, 6)]
    step1 = _job(request_files.output_dir, 2)["tweaks"]["1"]
    assert step1["process.source.numberEventsInLuminosityBlock"] == "customTypeCms.untracked.uint32(100)"


def test_float_and_string_numbers(request_files, event_splitter_cli):
    request_files.request["Step1"]["RequestNumEvents"] = 1000.0
    request_files.request["Step1"]["EventsPerJob"] = "500"
    request_files.request["Step1"]["EventsPerLumi"] = 250.0
    request_files.request["Multicore"] = "4"
    request_files.splitting[0]["splitParams"] = {"algorithm": "EventBased", "type": "Production"}
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    assert _job_files(request_files.output_dir) == ["job1.json", "job2.json"]
    for index in (1, 2):
        text = (request_files.output_dir / ("job%d.json" % index)).read_text()
        assert not re.search(r"\d\.\d|\d\.\)|\d[eE]", text), index
    assert _job_ranges(request_files.output_dir, 2) == [(1, 500, 1, 2), (501, 1000, 3, 4)]


def test_events_add_up(request_files, event_splitter_cli):
    request_files.request["Step1"]["RequestNumEvents"] = 9973
    request_files.request["FirstEvent"] = 1001
    request_files.request["FirstLumi"] = 77
    request_files.splitting[0]["splitParams"].update(events_per_job=640, events_per_lumi=300)
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    ranges = _job_ranges(request_files.output_dir, 16)
    assert len(_job_files(request_files.output_dir)) == 16
    assert sum(last - first + 1 for first, last, _, _ in ranges) == 9973
    assert ranges[0][0] == 1001
    assert ranges[0][2] == 77
    for previous, current in zip(ranges, ranges[1:]):
        assert current[0] == previous[1] + 1
        assert current[2] == previous[3] + 1


def test_splitting_file_wins_over_step1(request_files, event_splitter_cli):
    request_files.request["Step1"]["EventsPerJob"] = 999
    request_files.splitting[0]["splitParams"].update(events_per_job=250, events_per_lumi=50)
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    assert _job_ranges(request_files.output_dir, 4)[0] == (1, 250, 1, 5)


def test_filter_efficiency_scales_events(request_files, event_splitter_cli):
    request_files.request["Step1"]["FilterEfficiency"] = 0.5
    request_files.write()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    assert len(_job_files(request_files.output_dir)) == 20


# ---- invalid input ----

def _set(path, value):
    """Return a change that sets request or splitting field `path` (tuple of keys) to value."""
    def change(files):
        target = files.request if path[0] != "splitting" else files.splitting[0]["splitParams"]
        keys = path if path[0] != "splitting" else path[1:]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def _delete(*path):
    def change(files):
        target = files.request
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def _no_production(files):
    files.splitting = files.splitting[1:]


def _add_step4(files):
    files.request["Step4"] = dict(files.request["Step3"], StepName="Extra_0")


INVALID_INPUTS = {
    "events_per_job zero": (_set(("splitting", "events_per_job"), 0), "events_per_job"),
    "events_per_job negative": (_set(("splitting", "events_per_job"), -1), "events_per_job"),
    "events_per_lumi zero": (_set(("splitting", "events_per_lumi"), 0), "events_per_lumi"),
    "events_per_job text": (_set(("splitting", "events_per_job"), "many"), "events_per_job"),
    "events_per_job fraction": (_set(("splitting", "events_per_job"), 100.5), "events_per_job"),
    "events_per_job bool": (_set(("splitting", "events_per_job"), True), "events_per_job"),
    "events_per_job above int32": (_set(("splitting", "events_per_job"), 2 ** 31), "events_per_job"),
    "RequestNumEvents missing": (_delete("Step1", "RequestNumEvents"), "RequestNumEvents"),
    "RequestNumEvents zero": (_set(("Step1", "RequestNumEvents"), 0), "RequestNumEvents"),
    "RequestNumEvents null": (_set(("Step1", "RequestNumEvents"), None), "RequestNumEvents"),
    "FilterEfficiency zero": (_set(("Step1", "FilterEfficiency"), 0), "FilterEfficiency"),
    "FirstEvent zero": (_set(("FirstEvent",), 0), "FirstEvent"),
    "FirstEvent above uint32": (_set(("FirstEvent",), 2 ** 32), "FirstEvent"),
    "FirstLumi overflow": (_set(("FirstLumi",), 2 ** 32 - 5), "FirstLumi"),
    "Multicore zero": (_set(("Multicore",), 0), "Multicore"),
    "EventStreams negative": (_set(("Step2", "EventStreams"), -2), "Step2.EventStreams"),
    "StepChain too small": (_set(("StepChain",), 2), "StepChain"),
    "StepChain too large": (_set(("StepChain",), 4), "StepChain"),
    "StepChain extra key": (_add_step4, "StepChain"),
    "StepChain missing": (_delete("StepChain"), "StepChain"),
    "StepName missing": (_delete("Step2", "StepName"), "Step2.StepName"),
    "StepName repeated": (_set(("Step3", "StepName"), "Step1Name_0"), "Step3.StepName"),
    "StepName with slash": (_set(("Step2", "StepName"), "a/b"), "Step2.StepName"),
    "InputStep later step": (_set(("Step2", "InputStep"), "Step3Name_0"), "Step2.InputStep"),
    "InputStep unknown": (_set(("Step3", "InputStep"), "Nope"), "Step3.InputStep"),
    "InputStep itself": (_set(("Step2", "InputStep"), "Step2Name_0"), "Step2.InputStep"),
    "InputFromOutputModule missing": (_delete("Step2", "InputFromOutputModule"), "InputFromOutputModule"),
    "InputFromOutputModule not in PSet": (_set(("Step2", "InputFromOutputModule"), "AODSIMoutput"),
                                          "AODSIMoutput"),
    "RequestType TaskChain": (_set(("RequestType",), "TaskChain"), "RequestType"),
    "no Production entry": (_no_production, "Production"),
}


@pytest.mark.parametrize("case", sorted(INVALID_INPUTS))
def test_invalid_input_rejected(case, request_files, event_splitter_cli):
    change, field = INVALID_INPUTS[case]
    change(request_files)
    request_files.write()

    result = event_splitter_cli(request_files.arguments())

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("event_splitter: error: "), lines[0]
    assert field in lines[0]
    assert "Traceback" not in result.stderr
    assert not request_files.output_dir.exists()
    assert _leftovers(request_files.directory) == []


def test_missing_pset_rejected(request_files, event_splitter_cli):
    request_files.write()
    missing = request_files.pset_dir / "PSet_cmsRun2_Step2Name_0.py"
    missing.unlink()

    result = event_splitter_cli(request_files.arguments())

    assert result.returncode == 2
    assert str(missing) in result.stderr
    assert not request_files.output_dir.exists()


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe\x00"])
def test_non_json_request_rejected(content, request_files, event_splitter_cli):
    request_files.write()
    request_files.request_path.write_bytes(content)

    result = event_splitter_cli(request_files.arguments())

    assert result.returncode == 2
    assert result.stderr.startswith("event_splitter: error: request ")
    assert "not valid JSON" in result.stderr
    assert not request_files.output_dir.exists()


def test_unreadable_splitting_rejected(request_files, event_splitter_cli):
    request_files.write()
    request_files.splitting_path.unlink()

    result = event_splitter_cli(request_files.arguments())

    assert result.returncode == 2
    assert result.stderr.startswith("event_splitter: error: cannot read splitting file ")
    assert not request_files.output_dir.exists()


def test_splitting_not_list_rejected(request_files, event_splitter_cli):
    request_files.write()
    request_files.splitting_path.write_text('{"splitAlgo": "EventBased"}')

    result = event_splitter_cli(request_files.arguments())

    assert result.returncode == 2
    assert "list of task entries" in result.stderr


def test_missing_argument_usage_error(event_splitter_cli):
    result = event_splitter_cli(["--request", "request.json"])

    assert result.returncode == 2
    assert "event_splitter: error:" in result.stderr
    assert "--splitting" in result.stderr


# ---- all-or-nothing output ----

def test_nonempty_output_rejected(request_files, event_splitter_cli):
    request_files.write()
    request_files.output_dir.mkdir()
    (request_files.output_dir / "job1.json").write_text("earlier")

    result = event_splitter_cli(request_files.arguments())

    assert result.returncode == 2
    assert "--overwrite" in result.stderr
    assert (request_files.output_dir / "job1.json").read_text() == "earlier"
    assert _job_files(request_files.output_dir) == ["job1.json"]


def test_empty_output_dir_used(request_files, event_splitter_cli):
    request_files.write()
    request_files.output_dir.mkdir()

    assert event_splitter_cli(request_files.arguments()).returncode == 0
    assert len(_job_files(request_files.output_dir)) == 10


def test_overwrite_replaces_output(request_files, event_splitter_cli):
    request_files.write()
    assert event_splitter_cli(request_files.arguments()).returncode == 0
    request_files.splitting[0]["splitParams"]["events_per_job"] = 500
    request_files.write()

    result = event_splitter_cli(request_files.arguments("--overwrite"))

    assert result.returncode == 0, result.stderr
    assert _job_files(request_files.output_dir) == ["job1.json", "job2.json"]
    assert _leftovers(request_files.directory) == []


def test_overwrite_keeps_foreign_files(request_files, event_splitter_cli):
    request_files.write()
    request_files.output_dir.mkdir()
    (request_files.output_dir / "notes.txt").write_text("mine")

    result = event_splitter_cli(request_files.arguments("--overwrite"))

    assert result.returncode == 2
    assert "notes.txt" in result.stderr
    assert (request_files.output_dir / "notes.txt").read_text() == "mine"


def test_output_dir_is_file_rejected(request_files, event_splitter_cli):
    request_files.write()
    request_files.output_dir.write_text("a file")

    result = event_splitter_cli(request_files.arguments("--overwrite"))

    assert result.returncode == 2
    assert "not a directory" in result.stderr


def _limit_file_size():
    # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG instead of killing it.
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))


def _add_incompressible_padding(pset):
    """Grow a PSet by about 100 kB that gzip cannot shrink, so the tarball passes the file size limit."""
    padding = "".join("# %s\n" % os.urandom(32).hex() for _ in range(1500))
    pset.write_text(pset.read_text() + padding)


def test_write_failure_leaves_nothing(request_files, event_splitter_cli):
    request_files.write()
    _add_incompressible_padding(request_files.pset_dir / "PSet_cmsRun2_Step2Name_0.py")

    result = event_splitter_cli(request_files.arguments(), preexec_fn=_limit_file_size)

    assert result.returncode == 1
    assert result.stderr.startswith("event_splitter: error: writing ")
    assert not request_files.output_dir.exists()
    assert _leftovers(request_files.directory) == []


def test_write_failure_keeps_old_output(request_files, event_splitter_cli):
    request_files.write()
    assert event_splitter_cli(request_files.arguments()).returncode == 0
    _add_incompressible_padding(request_files.pset_dir / "PSet_cmsRun2_Step2Name_0.py")

    result = event_splitter_cli(request_files.arguments("--overwrite"), preexec_fn=_limit_file_size)

    assert result.returncode == 1
    assert len(_job_files(request_files.output_dir)) == 10
    assert _leftovers(request_files.directory) == []


def test_no_psets_no_tarball(request_files, event_splitter_cli):
    request_files.write(psets=False)

    assert event_splitter_cli(request_files.arguments(psets=False)).returncode == 0
    assert not (request_files.output_dir / "request_psets.tar.gz").exists()
    assert len(_job_files(request_files.output_dir)) == 10


def test_progress_on_terminal(request_files, event_splitter_cli):
    request_files.write()
    controller, terminal = pty.openpty()
    try:
        result = event_splitter_cli(request_files.arguments(), stderr=terminal)
        os.close(terminal)
        terminal = None
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)

    assert result.returncode == 0
    assert b"jobs written: 10/10" in shown


def test_no_progress_without_terminal(request_files, event_splitter_cli):
    request_files.write()

    result = event_splitter_cli(request_files.arguments())

    assert result.returncode == 0
    assert result.stderr == ""


def test_main_returns_status(request_files, capsys):
    request_files.splitting[0]["splitParams"]["events_per_lumi"] = -5
    request_files.write()

    status = event_splitter.main(request_files.arguments())

    assert status == 2
    assert "splitParams.events_per_lumi is -5" in capsys.readouterr().err


def test_sigterm_removes_partial_output(request_files):
    request_files.request["Step1"].update({"RequestNumEvents": 300000, "EventsPerJob": 1, "EventsPerLumi": 1})
    request_files.splitting[0]["splitParams"].update({"events_per_job": 1, "events_per_lumi": 1})
    request_files.write()
    command = [sys.executable, "-m", "micro_agent.event_splitter"] + request_files.arguments()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Stop it once it has started writing job files into its staging directory.
    deadline = time.monotonic() + 60
    while not _leftovers(request_files.directory) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in stderr
    assert "Traceback" not in stderr
    assert not request_files.output_dir.exists()
    assert _leftovers(request_files.directory) == []
