"""Submit-side tools given broken, hostile or unusual inputs: one error line, no traceback."""
import io
import json
import random
import tarfile

from fixtures.dag import write_splitter_output
from micro_agent import create_stepchain_dag


def assert_nothing_written(tmp_path):
    dag_dir = tmp_path / "dag"
    assert not dag_dir.exists() or list(dag_dir.iterdir()) == []


def with_splitter_dir(dag_arguments, splitter):
    arguments = dag_arguments[:]
    arguments[arguments.index("--event-splitter-dir") + 1] = str(splitter)
    return arguments


def write_truncated_tarball(splitter, request):
    """Replace the tarball by request.json plus a PSet, cut in the PSet as an interrupted copy would."""
    members = [("request.json", json.dumps(request).encode()),
               ("PSets/PSet_cmsRun1_Step1.py", random.Random(1).randbytes(200000))]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members:
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    data = buffer.getvalue()
    (splitter / "request_psets.tar.gz").write_bytes(data[: len(data) // 2])


def test_truncated_tarball_rejected(tmp_path, dag_arguments, real_request, caplog):
    splitter = write_splitter_output(tmp_path / "split", real_request, 2)
    write_truncated_tarball(splitter, real_request)
    assert create_stepchain_dag.main(with_splitter_dir(dag_arguments, splitter)) == 1
    assert "cannot read %s" % (splitter / "request_psets.tar.gz") in caplog.text
    assert_nothing_written(tmp_path)


def test_truncated_tarball_with_request(tmp_path, dag_arguments, real_request, caplog):
    splitter = write_splitter_output(tmp_path / "split", real_request, 2)
    write_truncated_tarball(splitter, real_request)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(real_request))
    arguments = with_splitter_dir(dag_arguments, splitter) + ["--request", str(request)]
    assert create_stepchain_dag.main(arguments) == 1
    assert "cannot read %s" % (splitter / "request_psets.tar.gz") in caplog.text
    assert_nothing_written(tmp_path)
