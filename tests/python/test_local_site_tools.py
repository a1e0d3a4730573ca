"""The local site's cmssw-wm-tools (pickler, tweak tool) and cmsRun basics, run under $LOCAL_SITE_PYTHON."""

import json
import subprocess

import pytest
from fixtures.local_site import CMS_SW_DIR, PSET_WRAPPER, pset_summary, run_in_release, write_tweaks

SIM_BIN = CMS_SW_DIR / "cmssw-sim" / "bin"

# Step index: process name, source type, maxEvents and data tier per output module of the real PSets.
REAL_PSETS = {
    0: ("SIM", "EmptySource", 100, {"RAWSIMoutput": "GEN-SIM", "LHEoutput": "LHE"}),
    1: ("DIGI2RAW", "PoolSource", 171, {"RAWSIMoutput": "GEN-SIM-RAW"}),
    2: ("HLT", "PoolSource", 286, {"RAWSIMoutput": "GEN-SIM-RAW"}),
    3: ("RECO", "PoolSource", 414, {"AODSIMoutput": "AODSIM"}),
    4: ("PAT", "PoolSource", 1276, {"MINIAODSIMoutput": "MINIAODSIM"}),
    5: ("NANO", "PoolSource", 3340, {"NANOEDMAODSIMoutput": "NANOAODSIM"}),
}


def run_tool(workdir, env, *command):
    """Run a tool of the simulated release with its bin/ first on PATH, as scram runtime sets it up."""
    env = dict(env, PATH="%s:%s" % (SIM_BIN, env["PATH"]))
    return subprocess.run(
        [str(SIM_BIN / command[0])] + list(command[1:]),
        cwd=str(workdir),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        check=False,
    )


@pytest.fixture(scope="module")
def pickled_real_psets(tmp_path_factory, _local_site_session_env, real_pset_paths):
    """Summaries of the six real PSets after edm_pset_pickler.py, by step index."""
    workdir = tmp_path_factory.mktemp("pickled")
    summaries = {}
    for index, pset in enumerate(real_pset_paths):
        output = workdir / ("step%d.pkl" % (index + 1))
        result = run_tool(
            workdir,
            _local_site_session_env,
            "edm_pset_pickler.py",
            "--input",
            str(pset),
            "--output_pkl",
            str(output),
        )
        assert result.returncode == 0, result.stderr
        summaries[index] = pset_summary(output, _local_site_session_env)
    return summaries


@pytest.mark.parametrize("index", sorted(REAL_PSETS))
def test_pickler_process_name(pickled_real_psets, index):
    assert pickled_real_psets[index]["name"] == REAL_PSETS[index][0]


@pytest.mark.parametrize("index", sorted(REAL_PSETS))
def test_pickler_source_type(pickled_real_psets, index):
    assert pickled_real_psets[index]["source"] == REAL_PSETS[index][1]


@pytest.mark.parametrize("index", sorted(REAL_PSETS))
def test_pickler_max_events(pickled_real_psets, index):
    assert pickled_real_psets[index]["max_events"] == REAL_PSETS[index][2]


@pytest.mark.parametrize("index", sorted(REAL_PSETS))
def test_pickler_data_tiers(pickled_real_psets, index):
    tiers = {label: output["dataTier"] for label, output in pickled_real_psets[index]["outputs"].items()}
    assert tiers == REAL_PSETS[index][3]


def test_pickler_file_name(pickled_real_psets):
    output = pickled_real_psets[0]["outputs"]["RAWSIMoutput"]
    assert output["fileName"] == "file:SMP-RunIISummer20UL17pp5TeVwmLHEGS-00007.root"


def test_pickler_source_parameters(pickled_real_psets):
    parameters = pickled_real_psets[2]["source_parameters"]
    assert parameters["fileNames"] == ["file:SMP-RunIISummer20UL17pp5TeVDIGI-00008.root"]


def test_pickler_later_assignment(pickled_real_psets):
    # process.source.bypassVersionCheck is set near the end of the HLT PSet.
    assert pickled_real_psets[2]["source_parameters"]["bypassVersionCheck"] is True


def test_pickler_producer_nevents(pickled_real_psets):
    assert pickled_real_psets[0]["producers_nEvents"] == {"externalLHEProducer": 100}


def test_pickler_maxevents_untracked(pickled_real_psets):
    assert pickled_real_psets[0]["max_events_tracked"] is False


def local_python_version(env):
    return subprocess.run(
        [env["LOCAL_SITE_PYTHON"], "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        stdout=subprocess.PIPE,
        universal_newlines=True,
        check=True,
    ).stdout.strip()


def test_release_python3_is_local_python(tmp_path, local_site_env):
    result = run_tool(
        tmp_path, local_site_env, "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"
    )
    assert result.stdout.strip() == local_python_version(local_site_env)


def test_pickler_missing_input(tmp_path, local_site_env):
    result = run_tool(
        tmp_path, local_site_env, "edm_pset_pickler.py", "--input", "nosuch.py", "--output_pkl", "out.pkl"
    )
    assert result.returncode == 1


def test_pickler_missing_input_message(tmp_path, local_site_env):
    result = run_tool(
        tmp_path, local_site_env, "edm_pset_pickler.py", "--input", "nosuch.py", "--output_pkl", "out.pkl"
    )
    assert "nosuch.py" in result.stderr


def test_pickler_no_process(tmp_path, local_site_env):
    (tmp_path / "empty.py").write_text("import FWCore.ParameterSet.Config as cms\n")
    result = run_tool(
        tmp_path, local_site_env, "edm_pset_pickler.py", "--input", "empty.py", "--output_pkl", "out.pkl"
    )
    assert "defines no `process = cms.Process(...)`" in result.stderr


def test_pickler_no_output_on_error(tmp_path, local_site_env):
    (tmp_path / "broken.py").write_text("process = cms.Process('X'\n")
    run_tool(
        tmp_path, local_site_env, "edm_pset_pickler.py", "--input", "broken.py", "--output_pkl", "out.pkl"
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "broken.py"]


@pytest.fixture
def step1_pickle(tmp_path, local_site_env, real_pset_paths):
    result = run_tool(
        tmp_path,
        local_site_env,
        "edm_pset_pickler.py",
        "--input",
        str(real_pset_paths[0]),
        "--output_pkl",
        "PSet.pkl",
    )
    assert result.returncode == 0, result.stderr
    return tmp_path / "PSet.pkl"


def tweak(pickle_path, env, tweaks, *options):
    write_tweaks(pickle_path.parent / "tweak.json", tweaks)
    return run_tool(
        pickle_path.parent,
        env,
        "edm_pset_tweak.py",
        "--input_pkl",
        pickle_path.name,
        "--output_pkl",
        "out.pkl",
        "--json",
        "tweak.json",
        *options,
    )


INVALID_TWEAKS = {
    "unbalanced": ("process.source.firstEvent", "customTypeCms.untracked.uint32(5"),
    "negative_uint32": ("process.source.firstEvent", "customTypeCms.untracked.uint32(-5)"),
    "float_uint32": ("process.source.firstEvent", "customTypeCms.untracked.uint32(1.5)"),
    "string_for_number": (
        "process.maxEvents",
        "customTypeCms.untracked.PSet(input=cms.untracked.int32('ten'))",
    ),
    "unknown_type": ("process.source.firstEvent", "customTypeCms.untracked.uint33(5)"),
    "missing_path": ("process.nosuch.value", "customTypeCms.untracked.uint32(5)"),
    "not_a_pset": ("process.source.firstEvent.value", "customTypeCms.untracked.uint32(5)"),
    "code": ("process.source.firstEvent", "__import__('os').getcwd()"),
    "bad_lumi_range": (
        "process.source.lumisToProcess",
        "customTypeCms.untracked.VLuminosityBlockRange(['1:10-1:1'])",
    ),
    "plain_new_value": ("process.source.newParameter", "5"),
    "bad_key": ("source.firstEvent", "customTypeCms.untracked.uint32(5)"),
}


@pytest.mark.parametrize("case", sorted(INVALID_TWEAKS))
def test_tweak_rejects_status(step1_pickle, local_site_env, case):
    key, value = INVALID_TWEAKS[case]
    assert tweak(step1_pickle, local_site_env, {key: value}).returncode == 1


@pytest.mark.parametrize("case", sorted(INVALID_TWEAKS))
def test_tweak_rejects_message(step1_pickle, local_site_env, case):
    key, value = INVALID_TWEAKS[case]
    stderr = tweak(step1_pickle, local_site_env, {key: value}).stderr
    assert "invalid tweak %s = %r" % (key, value) in stderr


@pytest.mark.parametrize("case", sorted(INVALID_TWEAKS))
def test_tweak_rejects_no_output(step1_pickle, local_site_env, case):
    key, value = INVALID_TWEAKS[case]
    tweak(step1_pickle, local_site_env, {key: value})
    assert not (step1_pickle.parent / "out.pkl").exists()


def test_tweak_creates_untracked_pset(step1_pickle, local_site_env):
    tweak(
        step1_pickle,
        local_site_env,
        {"process.newPSet.value": "customTypeCms.untracked.uint32(5)"},
        "--create_untracked_psets",
    )
    assert pset_summary(step1_pickle.parent / "out.pkl", local_site_env)["psets"]["newPSet"] == [
        False,
        {"value": 5},
    ]


def test_tweak_tracked_uint32(step1_pickle, local_site_env):
    tweak(step1_pickle, local_site_env, {"process.options.numberOfThreads": "customTypeCms.uint32(4)"})
    summary = pset_summary(step1_pickle.parent / "out.pkl", local_site_env)
    assert [summary["threads_type"], summary["threads_tracked"]] == ["uint32", True]


def test_tweak_untracked_uint32(step1_pickle, local_site_env):
    tweak(
        step1_pickle, local_site_env, {"process.options.numberOfThreads": "customTypeCms.untracked.uint32(4)"}
    )
    summary = pset_summary(step1_pickle.parent / "out.pkl", local_site_env)
    assert [summary["threads"], summary["threads_type"], summary["threads_tracked"]] == [4, "uint32", False]


def test_tweak_lumi_ranges(step1_pickle, local_site_env):
    tweak(
        step1_pickle,
        local_site_env,
        {
            "process.source.lumisToProcess": (
                "customTypeCms.untracked.VLuminosityBlockRange(['1:1-1:10', '2:5'])"
            )
        },
    )
    summary = pset_summary(step1_pickle.parent / "out.pkl", local_site_env)
    assert summary["source_parameters"]["lumisToProcess"] == ["1:1-1:10", "2:5"]


def test_tweak_allow_failed_status(step1_pickle, local_site_env):
    result = tweak(
        step1_pickle,
        local_site_env,
        {
            "process.source.firstEvent": "customTypeCms.untracked.uint32(-1)",
            "process.source.firstRun": "customTypeCms.untracked.uint32(7)",
        },
        "--allow_failed_tweaks",
    )
    assert result.returncode == 0


def test_tweak_allow_failed_applies_rest(step1_pickle, local_site_env):
    tweak(
        step1_pickle,
        local_site_env,
        {
            "process.source.firstEvent": "customTypeCms.untracked.uint32(-1)",
            "process.source.firstRun": "customTypeCms.untracked.uint32(7)",
        },
        "--allow_failed_tweaks",
    )
    assert pset_summary(step1_pickle.parent / "out.pkl", local_site_env)["source_parameters"]["firstRun"] == 7


def test_tweak_skip_if_set(step1_pickle, local_site_env):
    tweak(
        step1_pickle,
        local_site_env,
        {"process.maxEvents": "customTypeCms.untracked.PSet(input=cms.untracked.int32(5))"},
        "--skip_if_set",
    )
    assert pset_summary(step1_pickle.parent / "out.pkl", local_site_env)["max_events"] == 100


def test_tweak_json_not_object(step1_pickle, local_site_env):
    (step1_pickle.parent / "tweak.json").write_text(json.dumps(["process.maxEvents"]))
    result = run_tool(
        step1_pickle.parent,
        local_site_env,
        "edm_pset_tweak.py",
        "--input_pkl",
        "PSet.pkl",
        "--output_pkl",
        "out.pkl",
        "--json",
        "tweak.json",
    )
    assert "must hold a JSON object" in result.stderr


def test_tweak_input_not_pickle(tmp_path, local_site_env):
    (tmp_path / "PSet.pkl").write_text("not a pickle")
    result = tweak(tmp_path / "PSet.pkl", local_site_env, {})
    assert "is not a pickled process" in result.stderr


def test_cmsrun_help_simulator(tmp_path, local_site_env):
    result = run_tool(tmp_path, local_site_env, "cmsRun", "--help")
    assert "SIMULATOR" in result.stdout


def test_cmsrun_runs_local_python(tmp_path, local_site_env):
    (tmp_path / "cfg.py").write_text(
        "import sys\nimport FWCore.ParameterSet.Config as cms\n"
        "open('version.txt', 'w').write('%d.%d' % sys.version_info[:2])\n"
        "process = cms.Process('TEST')\nprocess.source = cms.Source('EmptySource')\n"
        "process.maxEvents.input = 3\n"
    )
    result = run_in_release(tmp_path, local_site_env, "cmsRun -j report.xml cfg.py")
    assert (result.returncode, (tmp_path / "version.txt").read_text()) == (
        0,
        local_python_version(local_site_env),
    )


def test_cmsrun_missing_config(tmp_path, local_site_env):
    assert (
        run_tool(tmp_path, local_site_env, "cmsRun", "-j", "report.xml", "nosuch.py").returncode == 7001 % 256
    )


def test_cmsrun_config_error(tmp_path, local_site_env):
    (tmp_path / "PSet.py").write_text(PSET_WRAPPER)
    assert (
        run_tool(tmp_path, local_site_env, "cmsRun", "-j", "report.xml", "PSet.py").returncode == 7002 % 256
    )


def test_cmsrun_empty_source_needs_max_events(tmp_path, local_site_env):
    (tmp_path / "cfg.py").write_text(
        "import FWCore.ParameterSet.Config as cms\nprocess = cms.Process('TEST')\n"
        "process.source = cms.Source('EmptySource')\n"
    )
    assert run_tool(tmp_path, local_site_env, "cmsRun", "-j", "report.xml", "cfg.py").returncode == 8009 % 256
