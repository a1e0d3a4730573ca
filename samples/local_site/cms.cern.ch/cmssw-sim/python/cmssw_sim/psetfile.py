"""Read a ConfigBuilder PSet file into a simulated Process without importing CMSSW.

The file is parsed, never executed. Top-level statements of the form `process = cms.Process(...)`
and `process.<path> = <expression>` are applied in order when the expression is in the configuration
language subset (see expressions.py) and the object it is assigned to exists. Everything else
(process.load, imports, customisation functions, Paths, Sequences, references to loaded modules) is
skipped, because it needs the CMSSW release.
"""
import ast

import FWCore.ParameterSet.Config as cms

from cmssw_sim.expressions import Evaluator, Unevaluable, _dotted_name


class PSetFileError(Exception):
    """The file cannot be read or defines no process."""


def _process_assignment(statement):
    """Return the call node of a `process = cms.Process(...)` statement, else None."""
    if len(statement.targets) != 1:
        return None
    target = statement.targets[0]
    if not (isinstance(target, ast.Name) and target.id == "process"):
        return None
    if not isinstance(statement.value, ast.Call):
        return None
    if _dotted_name(statement.value.func) not in (["cms", "Process"],):
        return None
    return statement.value


def _apply_assignment(process, statement):
    """Apply `process.a.b = value` when it can be evaluated; return True when applied."""
    if len(statement.targets) != 1:
        return False
    path = _dotted_name(statement.targets[0])
    if path is None or path[0] != "process" or len(path) < 2:
        return False
    parent = process
    for name in path[1:-1]:
        parent = getattr(parent, name, None)
        if parent is None:
            return False
    try:
        value = Evaluator(lenient=True, references={"process": process}).evaluate(statement.value)
        setattr(parent, path[-1], value)
    except (Unevaluable, TypeError, ValueError, AttributeError):
        return False
    return True


def read_pset_file(path):
    """Return the Process that the PSet file at `path` defines."""
    try:
        with open(path) as handle:
            source = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise PSetFileError("cannot read %s: %s" % (path, error)) from None
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        message = "%s is not valid Python (line %s: %s)" % (path, error.lineno, error.msg)
        raise PSetFileError(message) from None

    process = None
    for statement in tree.body:
        if not isinstance(statement, ast.Assign):
            continue
        call = _process_assignment(statement)
        if call is not None:
            try:
                process = Evaluator(lenient=True).evaluate(call)
            except (Unevaluable, TypeError, ValueError) as error:
                raise PSetFileError("%s: invalid cms.Process(...) on line %d: %s"
                                    % (path, statement.lineno, error)) from None
        elif process is not None:
            _apply_assignment(process, statement)
    if not isinstance(process, cms.Process):
        raise PSetFileError("%s defines no `process = cms.Process(...)`" % path)
    return process
