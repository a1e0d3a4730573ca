"""Evaluate CMSSW configuration expressions from their syntax tree, without running any code.

Only literals, lists, tuples, negative numbers and calls of the simulated configuration types are
accepted: `cms.untracked.uint32(4)`, `customTypeCms.untracked.PSet(input=cms.untracked.int32(830))`,
`cms.OutputModule("PoolOutputModule", ...)`. The pickler reads whole PSet files in lenient mode, which
drops a keyword argument that cannot be evaluated. The tweak tool uses strict mode, where that is an error.
"""
import ast

import FWCore.ParameterSet.Config as cms

# Names that may start a type path. cmssw-wm-tools write tweak values with the customTypeCms prefix.
CMS_NAMES = ("cms", "customTypeCms")


class Unevaluable(Exception):
    """The expression uses something outside the configuration language subset."""


def _literal(node):
    """Return (True, value) for a literal node on Python 3.6 to 3.12 syntax trees, else (False, None)."""
    kind = type(node).__name__
    if kind == "Constant":
        return True, node.value
    if kind == "Num":
        return True, node.n
    if kind == "Str":
        return True, node.s
    if kind == "NameConstant":
        return True, node.value
    return False, None


def _dotted_name(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return list(reversed(parts))


def resolve_type(parts):
    """Return (type, tracked) for a path such as ['cms', 'untracked', 'uint32'].

    Raises Unevaluable for a path outside cms, ValueError for an unknown cms type.
    """
    if len(parts) < 2 or parts[0] not in CMS_NAMES:
        raise Unevaluable("%s is not a cms type" % ".".join(parts))
    tracked = True
    names = parts[1:]
    if names[0] == "untracked":
        tracked = False
        names = names[1:]
    if len(names) != 1:
        raise ValueError("unknown type %s" % ".".join(parts))
    name = names[0]
    if name in cms.PARAMETER_TYPES:
        return cms.PARAMETER_TYPES[name], tracked
    if name in cms.MODULE_TYPES and tracked:
        return cms.MODULE_TYPES[name], tracked
    if name == "Process" and tracked:
        return cms.Process, tracked
    if tracked and hasattr(cms, name):
        # Path, Sequence, Schedule and the like exist in CMSSW but are not simulated.
        raise Unevaluable("cms.%s is not simulated" % name)
    raise ValueError("unknown type %s" % ".".join(parts))


class Evaluator(object):
    """Evaluate expression nodes; `references` resolves names such as `process` in lenient mode."""

    def __init__(self, lenient, references=None):
        self.lenient = lenient
        self.references = references or {}

    def evaluate(self, node):
        is_literal, value = _literal(node)
        if is_literal:
            return value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.evaluate(node.operand)
            if isinstance(operand, bool) or not isinstance(operand, (int, float)):
                raise Unevaluable("sign applied to a non-number")
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.List):
            return [self.evaluate(item) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.evaluate(item) for item in node.elts)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Attribute) and self.lenient:
            return self._reference(node)
        raise Unevaluable("%s expressions are not part of the configuration language" % type(node).__name__)

    def _reference(self, node):
        parts = _dotted_name(node)
        if parts is None or parts[0] not in self.references:
            raise Unevaluable("unknown reference")
        value = self.references[parts[0]]
        for part in parts[1:]:
            if not hasattr(value, part):
                raise Unevaluable("%s does not exist" % ".".join(parts))
            value = getattr(value, part)
        return value

    def _call(self, node):
        parts = _dotted_name(node.func)
        if parts is None:
            raise Unevaluable("call of a computed function")
        factory, tracked = resolve_type(parts)
        if any(type(arg).__name__ == "Starred" for arg in node.args):
            raise Unevaluable("*arguments are not supported")
        if factory is cms.Process:
            # Era modifiers after the name are CMSSW objects that the simulation does not have.
            return cms.Process(*[self.evaluate(arg) for arg in node.args[:1]])
        args = [self.evaluate(arg) for arg in node.args]
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise Unevaluable("**arguments are not supported")
            try:
                kwargs[keyword.arg] = self.evaluate(keyword.value)
            except (Unevaluable, TypeError, ValueError):
                if not self.lenient:
                    raise
        value = factory(*args, **kwargs)
        if not tracked:
            value.setIsTracked(False)
        return value


def evaluate_text(text):
    """Evaluate one expression string strictly; raise ValueError with the reason when it is invalid."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError("malformed expression (%s)" % error.msg) from None
    try:
        return Evaluator(lenient=False).evaluate(tree.body)
    except Unevaluable as error:
        raise ValueError(str(error)) from None
    except TypeError as error:
        raise ValueError(str(error)) from None
