"""Read the nodes of a StepChain DAG file: submit file, VARS, RETRY and POST script per node.

Only the statements that create-stepchain-dag writes are understood: JOB, VARS, RETRY, SCRIPT,
CATEGORY, MAXJOBS and comments. Any other statement raises DagFormatError with its line number, so
a DAG edited by hand into something this module does not know fails loudly instead of being misread.
"""

import pathlib
import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional

# VARS values are double-quoted; DAGMan escapes a quote or a backslash inside with a backslash.
_VARS_PAIR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
_IGNORED_STATEMENTS = {"CATEGORY", "MAXJOBS"}


class DagFormatError(ValueError):
    """The DAG file contains a statement this reader does not understand."""


@dataclass
class PostScript:
    """The POST script of a node as its SCRIPT line gives it."""

    executable: str
    arguments: List[str]
    defer_status: Optional[int] = None
    defer_delay: Optional[int] = None


@dataclass
class DagNode:
    """One JOB of the DAG with the statements that refer to it."""

    name: str
    submit_file: str
    variables: Dict[str, str] = field(default_factory=dict)
    retries: int = 0
    unless_exit: Optional[int] = None
    post: Optional[PostScript] = None


def _unescape(value):
    return re.sub(r"\\(.)", r"\1", value)


def _parse_vars(text, line_number):
    variables = {}
    position = 0
    while position < len(text):
        match = _VARS_PAIR.match(text, position)
        if match is None:
            if text[position:].strip():
                raise DagFormatError("line %d: invalid VARS value %r" % (line_number, text[position:]))
            break
        variables[match.group(1)] = _unescape(match.group(2))
        position = match.end()
    return variables


def _integer(text, what, line_number):
    try:
        return int(text)
    except ValueError:
        raise DagFormatError("line %d: %s %r is not an integer" % (line_number, what, text)) from None


def _parse_script(words, line_number):
    """Return (node name, PostScript) from the words after SCRIPT, or None for a PRE script."""
    defer_status = defer_delay = None
    if words and words[0].upper() == "DEFER":
        if len(words) < 3:
            raise DagFormatError("line %d: SCRIPT DEFER needs a status and a delay" % line_number)
        defer_status = _integer(words[1], "SCRIPT DEFER status", line_number)
        defer_delay = _integer(words[2], "SCRIPT DEFER delay", line_number)
        words = words[3:]
    if len(words) < 3:
        raise DagFormatError("line %d: SCRIPT needs PRE or POST, a node and a script" % line_number)
    kind, node, executable, arguments = words[0].upper(), words[1], words[2], words[3:]
    if kind != "POST":
        return node, None
    return node, PostScript(executable, list(arguments), defer_status, defer_delay)


def read_dag(path):
    """Return the nodes of the DAG file at `path` as a dict keyed by node name, in file order."""
    nodes = {}
    text = pathlib.Path(path).read_text()
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        keyword = keyword.upper()
        if keyword in _IGNORED_STATEMENTS:
            continue
        if keyword == "JOB":
            words = rest.split()
            if len(words) != 2:
                raise DagFormatError(
                    "line %d: JOB needs a node name and a submit file, without options" % line_number
                )
            nodes[words[0]] = DagNode(words[0], words[1])
            continue
        if keyword == "VARS":
            name, _, values = rest.strip().partition(" ")
            _node(nodes, name, line_number).variables.update(_parse_vars(values, line_number))
            continue
        if keyword == "RETRY":
            words = rest.split()
            if len(words) < 2:
                raise DagFormatError("line %d: RETRY needs a node name and a count" % line_number)
            node = _node(nodes, words[0], line_number)
            node.retries = _integer(words[1], "RETRY count", line_number)
            if len(words) >= 4 and words[2].upper() == "UNLESS-EXIT":
                node.unless_exit = _integer(words[3], "RETRY UNLESS-EXIT status", line_number)
            continue
        if keyword == "SCRIPT":
            try:
                words = shlex.split(rest)
            except ValueError as error:
                raise DagFormatError("line %d: invalid SCRIPT line: %s" % (line_number, error)) from None
            name, post = _parse_script(words, line_number)
            if post is not None:
                _node(nodes, name, line_number).post = post
            continue
        raise DagFormatError("line %d: statement %s is not supported here" % (line_number, keyword))
    return nodes


def _node(nodes, name, line_number):
    try:
        return nodes[name]
    except KeyError:
        raise DagFormatError("line %d: node %s has no JOB line before it" % (line_number, name)) from None
