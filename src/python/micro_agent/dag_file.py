"""The DAGMan input file of a StepChain request: one node per job file.

htcondor2.dags (HTCondor 24.12) writes the per-node RETRY, SCRIPT and CATEGORY lines here.
This module writes the JOB and VARS lines and the throttle itself, for two reasons. The
htcondor2.dags writer puts an absolute submit file path on every JOB line, which would point into
the temporary directory that the DAG directory is assembled in. Its max_jobs_by_category writes
`CATEGORY <name> <n>` where DAGMan expects `MAXJOBS <name> <n>`.
"""
from dataclasses import dataclass

from htcondor2 import dags
from htcondor2.dags.writer import DAGWriter

from micro_agent import postjob

NODE_PREFIX = "Job"
THROTTLE_CATEGORY = "stepchain"


@dataclass(frozen=True)
class DagSettings:
    """Settings that the DAG file is written from."""

    job_count: int
    submit_file: str
    post_script: str
    node_retries: int
    post_policy: str
    defer_status: int
    defer_delay: int
    max_deferrals: int
    max_jobs: int  # 0: no throttle
    header: tuple = ()


def node_name(job_index):
    return "%s%d" % (NODE_PREFIX, job_index)


def _node_template(settings):
    """Return a one-node htcondor2.dags layer that carries the RETRY, SCRIPT and CATEGORY settings."""
    arguments = ["$JOB", "$RETURN", "$RETRY", "$MAX_RETRIES", "$JOBID",
                 "--policy", settings.post_policy, "--defer-status", str(settings.defer_status)]
    if settings.post_policy == "report":
        arguments += ["--max-deferrals", str(settings.max_deferrals)]
    post = dags.Script(
        executable=settings.post_script,
        arguments=arguments,
        retry=True,
        retry_status=settings.defer_status,
        retry_delay=settings.defer_delay,
    )
    dag = dags.DAG()
    return dag, dag.layer(
        name=NODE_PREFIX,
        submit_description=settings.submit_file,
        vars=[{}],
        retries=settings.node_retries,
        retry_unless_exit=postjob.FATAL,
        post=post,
        category=THROTTLE_CATEGORY if settings.max_jobs else None,
    )


def generate_dag_lines(settings):
    """Yield the lines of the DAG file, one node at a time."""
    for line in settings.header:
        yield "# " + line if line else "#"
    if settings.max_jobs:
        yield "MAXJOBS %s %d" % (THROTTLE_CATEGORY, settings.max_jobs)

    dag, template = _node_template(settings)
    writer = DAGWriter(dag)
    for index in range(1, settings.job_count + 1):
        name = node_name(index)
        yield "JOB %s %s" % (name, settings.submit_file)
        yield 'VARS %s node_name="%s" job_index="%d"' % (name, name, index)
        yield from writer.yield_node_meta_lines(template, name)


def write_dag(path, settings):
    with open(path, "w") as handle:
        for line in generate_dag_lines(settings):
            handle.write(line)
            handle.write("\n")
