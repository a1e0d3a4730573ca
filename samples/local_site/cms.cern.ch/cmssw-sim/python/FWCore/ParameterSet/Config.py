"""Simulated FWCore.ParameterSet.Config for the local site (not CMSSW).

It implements the part of CMSSW's configuration language that ConfigBuilder dumps, WMCore and
cmssw-wm-tools use: typed parameters (tracked and untracked), PSets, modules and a Process that
pickles. Every value is checked against its type when it is set, so a mistyped value raises
TypeError or ValueError naming the type and the value. Runs on Python 3.6 with the standard library.
"""
import builtins
import collections
import re

INT32_RANGE = (-2 ** 31, 2 ** 31 - 1)
UINT32_RANGE = (0, 2 ** 32 - 1)
INT64_RANGE = (-2 ** 63, 2 ** 63 - 1)
UINT64_RANGE = (0, 2 ** 64 - 1)


class _ParameterTypeBase(object):
    """Base of every parameter type: stores whether the parameter is tracked."""

    def __init__(self):
        self._isTracked = True

    def isTracked(self):
        return self._isTracked

    def setIsTracked(self, tracked):
        self._isTracked = builtins.bool(tracked)

    def _typePrefix(self):
        return "cms." if self._isTracked else "cms.untracked."


class _SimpleParameter(_ParameterTypeBase):
    """A parameter that stores one validated value."""

    def __init__(self, value):
        super(_SimpleParameter, self).__init__()
        self._value = self._validated(value)

    @classmethod
    def _validated(cls, value):
        raise NotImplementedError

    def value(self):
        return self._value

    def setValue(self, value):
        self._value = self._validated(value)

    def __repr__(self):
        return "%s%s(%r)" % (self._typePrefix(), type(self).__name__, self._value)

    def __eq__(self, other):
        if isinstance(other, _SimpleParameter):
            return type(self) is type(other) and self._value == other._value
        return self._value == other

    def __ne__(self, other):
        return not self == other

    __hash__ = None


def _checkedInteger(typeName, value, bounds):
    if isinstance(value, builtins.bool) or not isinstance(value, int):
        raise TypeError("%s needs an integer, got %r (%s)" % (typeName, value, type(value).__name__))
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError("%s value %d is outside %d..%d" % (typeName, value, bounds[0], bounds[1]))
    return value


class int32(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        return _checkedInteger("int32", value, INT32_RANGE)


class uint32(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        return _checkedInteger("uint32", value, UINT32_RANGE)


class int64(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        return _checkedInteger("int64", value, INT64_RANGE)


class uint64(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        return _checkedInteger("uint64", value, UINT64_RANGE)


class double(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        if isinstance(value, builtins.bool) or not isinstance(value, (int, float)):
            raise TypeError("double needs a number, got %r (%s)" % (value, type(value).__name__))
        return float(value)


# CMSSW names this type cms.bool, so inside this module the builtin is builtins.bool.
class bool(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        if value is not True and value is not False:
            raise TypeError("bool needs True or False, got %r" % (value,))
        return value


def _checkedString(typeName, value):
    if not isinstance(value, str):
        raise TypeError("%s needs a str, got %r (%s)" % (typeName, value, type(value).__name__))
    return value


class string(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        return _checkedString("string", value)


class InputTag(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        return _checkedString("InputTag", value)


class FileInPath(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        return _checkedString("FileInPath", value)


# A luminosity block range as CMSSW writes it: "run:lumi" or "run:lumi-run:lumi".
_LUMI_RANGE = re.compile(r"^(\d+):(\d+)(?:-(\d+):(\d+))?$")


def _checkedLumiRange(value):
    if not isinstance(value, str):
        raise TypeError("LuminosityBlockRange needs a str such as '1:1-1:10', got %r" % (value,))
    match = _LUMI_RANGE.match(value.strip())
    if match is None:
        raise ValueError("LuminosityBlockRange %r is not 'run:lumi' or 'run:lumi-run:lumi'" % value)
    start = (int(match.group(1)), int(match.group(2)))
    end = (int(match.group(3)), int(match.group(4))) if match.group(3) else start
    if end < start:
        raise ValueError("LuminosityBlockRange %r ends before it starts" % value)
    return value.strip()


class LuminosityBlockRange(_SimpleParameter):
    @classmethod
    def _validated(cls, value):
        return _checkedLumiRange(value)


class _VectorParameter(_ParameterTypeBase):
    """A list parameter. Its items are given as arguments or as one list or tuple."""

    _itemType = None

    def __init__(self, *items):
        super(_VectorParameter, self).__init__()
        if len(items) == 1 and isinstance(items[0], (list, tuple)):
            items = items[0]
        self._value = [self._itemType._validated(item) for item in items]

    def value(self):
        return list(self._value)

    def setValue(self, items):
        if not isinstance(items, (list, tuple)):
            raise TypeError("%s needs a list, got %r" % (type(self).__name__, items))
        self._value = [self._itemType._validated(item) for item in items]

    def append(self, item):
        self._value.append(self._itemType._validated(item))

    def extend(self, items):
        self._value.extend(self._itemType._validated(item) for item in items)

    def __len__(self):
        return len(self._value)

    def __iter__(self):
        return iter(self._value)

    def __getitem__(self, index):
        return self._value[index]

    def __repr__(self):
        return "%s%s(%r)" % (self._typePrefix(), type(self).__name__, self._value)

    def __eq__(self, other):
        if isinstance(other, _VectorParameter):
            return type(self) is type(other) and self._value == other._value
        return self._value == other

    def __ne__(self, other):
        return not self == other

    __hash__ = None


class vint32(_VectorParameter):
    _itemType = int32


class vuint32(_VectorParameter):
    _itemType = uint32


class vint64(_VectorParameter):
    _itemType = int64


class vuint64(_VectorParameter):
    _itemType = uint64


class vdouble(_VectorParameter):
    _itemType = double


class vstring(_VectorParameter):
    _itemType = string


class VInputTag(_VectorParameter):
    _itemType = InputTag


class VLuminosityBlockRange(_VectorParameter):
    _itemType = LuminosityBlockRange


class _Parameterizable(object):
    """An object whose attributes are typed parameters, in the order they were set."""

    def __init__(self, *psets, **parameters):
        self.__dict__["_parameterNames"] = []
        for pset in psets:
            if not isinstance(pset, PSet):
                raise TypeError("positional arguments must be PSets, got %r" % (pset,))
            for name in pset.parameterNames_():
                setattr(self, name, getattr(pset, name))
        for name, parameter in parameters.items():
            setattr(self, name, parameter)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            self.__dict__[name] = value
        elif isinstance(value, _ParameterTypeBase):
            if name not in self._parameterNames:
                self._parameterNames.append(name)
            self.__dict__[name] = value
        elif name in self._parameterNames:
            self.__dict__[name].setValue(value)
        else:
            raise TypeError("new parameter %r needs a typed value such as cms.untracked.int32(1), got %r"
                            % (name, value))

    def __delattr__(self, name):
        if name in self._parameterNames:
            self._parameterNames.remove(name)
        del self.__dict__[name]

    def parameterNames_(self):
        return list(self._parameterNames)

    def hasParameter(self, name):
        return name in self._parameterNames

    def parameters_(self):
        """Return the parameters as a dict of plain Python values, nested for PSets."""
        result = collections.OrderedDict()
        for name in self._parameterNames:
            parameter = self.__dict__[name]
            if isinstance(parameter, PSet):
                result[name] = parameter.parameters_()
            else:
                result[name] = parameter.value()
        return result


class PSet(_Parameterizable, _ParameterTypeBase):
    """A parameter set; itself a parameter, so PSets nest."""

    def __init__(self, *psets, **parameters):
        _ParameterTypeBase.__init__(self)
        _Parameterizable.__init__(self, *psets, **parameters)

    def value(self):
        return self

    def __repr__(self):
        body = ", ".join("%s=%r" % (name, self.__dict__[name]) for name in self._parameterNames)
        return "%sPSet(%s)" % (self._typePrefix(), body)


class _Module(_Parameterizable):
    """A framework module: a C++ type name plus parameters, labelled when added to a Process."""

    def __init__(self, type_, *psets, **parameters):
        if not isinstance(type_, str):
            raise TypeError("module type must be a str, got %r" % (type_,))
        self.__dict__["_type"] = type_
        self.__dict__["_label"] = None
        _Parameterizable.__init__(self, *psets, **parameters)

    def type_(self):
        return self._type

    def label_(self):
        return self._label

    def setLabel(self, label):
        self._label = label

    def __repr__(self):
        return "cms.%s(%r, label=%r)" % (type(self).__name__, self._type, self._label)


class Source(_Module):
    pass


class OutputModule(_Module):
    pass


class EDProducer(_Module):
    pass


class EDFilter(_Module):
    pass


class EDAnalyzer(_Module):
    pass


class Service(_Module):
    pass


class ESSource(_Module):
    pass


class ESProducer(_Module):
    pass


class Looper(_Module):
    pass


# Names that Process computes; assigning a module or PSet to one of them is an error.
_PROCESS_RESERVED = frozenset(["outputModules", "producers", "filters", "analyzers", "services", "psets"])


class Process(object):
    """A CMSSW process: a name plus labelled modules and PSets, kept in the order they were added.

    Like CMSSW 11 and later, a new Process already has maxEvents (input = -1) and an empty options PSet.
    """

    def __init__(self, name, *modifiers):
        if not isinstance(name, str) or not name.isalnum():
            raise ValueError("process name must be alphanumeric, got %r" % (name,))
        self.__dict__["_name"] = name
        self.__dict__["_labels"] = []
        self.source = None
        self.maxEvents = untracked.PSet(input=untracked.int32(-1))
        self.options = untracked.PSet()

    def name_(self):
        return self._name

    def setName_(self, name):
        self._name = name

    def __setattr__(self, label, value):
        if label.startswith("_"):
            self.__dict__[label] = value
            return
        if label in _PROCESS_RESERVED:
            raise AttributeError("%r is computed by Process and cannot be assigned" % label)
        if label == "source":
            if value is not None and not isinstance(value, Source):
                raise TypeError("process.source must be a cms.Source, got %r" % (value,))
        elif isinstance(value, Source):
            raise TypeError("a cms.Source can only be assigned to process.source, not %r" % label)
        elif not isinstance(value, (_Module, PSet)):
            raise TypeError("process.%s must be a module or a PSet, got %r" % (label, value))
        if isinstance(value, _Module):
            value.setLabel(label)
        if label not in self._labels:
            self._labels.append(label)
        self.__dict__[label] = value

    def __delattr__(self, label):
        if label in self._labels:
            self._labels.remove(label)
        del self.__dict__[label]

    def add_(self, module):
        """Add a module under its type name, as CMSSW does for Services."""
        setattr(self, module.type_(), module)

    def _labelled(self, kind):
        return collections.OrderedDict(
            (label, self.__dict__[label]) for label in self._labels if isinstance(self.__dict__[label], kind)
        )

    def outputModules_(self):
        return self._labelled(OutputModule)

    def producers_(self):
        return self._labelled(EDProducer)

    def filters_(self):
        return self._labelled(EDFilter)

    def analyzers_(self):
        return self._labelled(EDAnalyzer)

    def services_(self):
        return self._labelled(Service)

    def psets_(self):
        return self._labelled(PSet)

    outputModules = property(outputModules_)
    producers = property(producers_)
    filters = property(filters_)
    analyzers = property(analyzers_)
    services = property(services_)
    psets = property(psets_)


# Every parameter type by its CMSSW name, for cms.untracked.<type> and for tools that evaluate values.
PARAMETER_TYPES = collections.OrderedDict(
    (cls.__name__, cls)
    for cls in (
        int32, uint32, int64, uint64, double, bool, string, InputTag, FileInPath, LuminosityBlockRange,
        vint32, vuint32, vint64, vuint64, vdouble, vstring, VInputTag, VLuminosityBlockRange, PSet,
    )
)

MODULE_TYPES = collections.OrderedDict(
    (cls.__name__, cls)
    for cls in (Source, OutputModule, EDProducer, EDFilter, EDAnalyzer, Service, ESSource, ESProducer, Looper)
)


class _Untracked(object):
    """cms.untracked: `cms.untracked.uint32(4)` builds an untracked parameter; `cms.untracked(p)` marks p."""

    def __call__(self, parameter):
        if not isinstance(parameter, _ParameterTypeBase):
            raise TypeError("cms.untracked() needs a parameter, got %r" % (parameter,))
        parameter.setIsTracked(False)
        return parameter

    def __getattr__(self, typeName):
        parameterType = PARAMETER_TYPES.get(typeName)
        if parameterType is None:
            raise AttributeError("cms.untracked has no parameter type %r" % typeName)

        def build(*args, **kwargs):
            parameter = parameterType(*args, **kwargs)
            parameter.setIsTracked(False)
            return parameter

        return build


untracked = _Untracked()
