"""The splitter's job ranges against WMCore's own EventBased splitter, run here on WMCore.DataStructs."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from micro_agent.splitter_jobs import JobDocumentRenderer, build_job_document, count_jobs, split_events
from micro_agent.splitter_request import UINT32_MAX, SplitPlan, read_plan

MAX_JOBS_PER_EXAMPLE = 300


def _plan(total, per_job, per_lumi, first_event=1, first_lumi=1):
    return SplitPlan(total, per_job, per_lumi, first_event, first_lumi, steps=[])


def _ranges(plan):
    return [(job.first_event, job.last_event, job.first_lumi, job.last_lumi, job.first_run)
            for job in split_events(plan)]


def test_real_request_matches_wmcore(real_request_dir, wmcore_masks):
    request = json.loads((real_request_dir / "request.json").read_text())
    splitting = json.loads((real_request_dir / "splitting.json").read_text())
    plan = read_plan(request, splitting)

    expected = wmcore_masks(15000000, 830, 830)

    assert len(expected) == 18073
    assert _ranges(plan) == expected


def test_real_request_last_job(real_request_dir):
    request = json.loads((real_request_dir / "request.json").read_text())
    splitting = json.loads((real_request_dir / "splitting.json").read_text())
    plan = read_plan(request, splitting)

    *_, last = split_events(plan)

    assert last.index == 18073
    assert last.first_event == 14999761
    assert last.events == 240


def test_wrap_matches_wmcore(wmcore_masks):
    # The third job would end past 4294967295, so WMCore restarts it at event 1.
    plan = _plan(total=2500, per_job=1000, per_lumi=300, first_event=UINT32_MAX - 2200)

    ranges = _ranges(plan)

    assert ranges == wmcore_masks(2500, 1000, 300, first_event=UINT32_MAX - 2200)
    assert ranges[2][0] == 1


def test_wrap_skipped_when_rest_fits(wmcore_masks):
    # The last 50 events end on 4294967294, below the limit, although a full-size job would not fit.
    first_event = UINT32_MAX - 1050
    plan = _plan(total=1050, per_job=1000, per_lumi=1000, first_event=first_event)

    ranges = _ranges(plan)

    assert ranges == wmcore_masks(1050, 1000, 1000, first_event=first_event)
    assert ranges[1][0] == first_event + 1000


def test_wrap_when_rest_ends_at_limit(wmcore_masks):
    # WMCore also restarts when the remaining events would end exactly on 4294967295.
    first_event = UINT32_MAX - 1049
    plan = _plan(total=1050, per_job=1000, per_lumi=1000, first_event=first_event)

    ranges = _ranges(plan)

    assert ranges == wmcore_masks(1050, 1000, 1000, first_event=first_event)
    assert ranges[1][0] == 1


def _first_events():
    near_wrap = st.integers(min_value=UINT32_MAX - 20000, max_value=UINT32_MAX)
    return st.one_of(st.integers(min_value=1, max_value=100000), near_wrap)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(total=st.integers(min_value=1, max_value=20000),
       per_job=st.integers(min_value=1, max_value=5000),
       per_lumi=st.integers(min_value=1, max_value=6000),
       first_event=_first_events(),
       first_lumi=st.integers(min_value=1, max_value=10 ** 6),
       fake_file_run=st.integers(min_value=1, max_value=10 ** 6))
def test_generated_requests_match_wmcore(wmcore_masks, total, per_job, per_lumi, first_event,
                                         first_lumi, fake_file_run):
    plan = _plan(total, per_job, per_lumi, first_event, first_lumi)
    if count_jobs(plan) > MAX_JOBS_PER_EXAMPLE:
        plan = _plan(total, -(-total // MAX_JOBS_PER_EXAMPLE), per_lumi, first_event, first_lumi)

    # WMCore puts production jobs in run 1 whatever run the fake file carries.
    expected = wmcore_masks(plan.total_events, plan.events_per_job, plan.events_per_lumi,
                            first_event, first_lumi, fake_file_run)

    assert _ranges(plan) == expected


def test_renderer_matches_json_dumps(real_request_dir):
    request = json.loads((real_request_dir / "request.json").read_text())
    splitting = json.loads((real_request_dir / "splitting.json").read_text())
    request["Step1"]["RequestNumEvents"] = 123457
    request["FirstEvent"] = UINT32_MAX - 50000
    plan = read_plan(request, splitting)
    renderer = JobDocumentRenderer(plan)

    for job in split_events(plan):
        expected = (json.dumps(build_job_document(job, plan)) + "\n").encode("ascii")
        assert renderer.render(job) == expected, job
