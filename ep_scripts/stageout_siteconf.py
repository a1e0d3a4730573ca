"""Check a site's SITECONF before WMCore's StageOutMgr reads it, and map LFNs to PFNs with it.

WMCore 2.4.5.9 treats several SITECONF mistakes loosely. It only logs a missing
WMAGENT_SITE_CONFIG_OVERRIDE file and falls back to SITECONFIG_PATH. A method without `command`
silently becomes gfal2. A method whose storage.json cannot be read is skipped or ends in a traceback.
This module rejects each of them with one line that names the file or element and the fix.
Python 3.6 with WMCore.
"""
import collections
import json
import os
import xml.etree.ElementTree as ElementTree

# Importing the backends registers the stage-out commands (cp, xrdcp, gfal2, ...) in Registry.
import WMCore.Storage.Backends  # noqa: F401
from stageout_exitcodes import StageOutExit
from WMCore.Storage.Registry import Registry
from WMCore.Storage.RucioFileCatalog import readRFC, storageJsonPath

CONFIG_ERROR = "STAGEOUT_INIT_FAILED"

StageOutMethod = collections.namedtuple(
    "StageOutMethod", "number command option volume protocol storage_site storage_json pnn catalog"
)
SiteConf = collections.namedtuple("SiteConf", "config_path site subsite methods")


def _fail(message):
    raise StageOutExit(CONFIG_ERROR, message)


def locate_site_local_config(environ):
    """Return the site-local-config.xml that WMCore will read, rejecting a missing override file."""
    override = environ.get("WMAGENT_SITE_CONFIG_OVERRIDE")
    if override:
        if not os.path.isfile(override):
            _fail("WMAGENT_SITE_CONFIG_OVERRIDE=%s: file not found; point it to a site-local-config.xml "
                  "or unset it to use $SITECONFIG_PATH/JobConfig/site-local-config.xml" % override)
        return override

    siteconf = environ.get("SITECONFIG_PATH")
    if not siteconf:
        _fail("neither SITECONFIG_PATH nor WMAGENT_SITE_CONFIG_OVERRIDE is set; set SITECONFIG_PATH to the "
              "site's SITECONF directory (with JobConfig/site-local-config.xml and storage.json)")
    path = os.path.join(siteconf, "JobConfig", "site-local-config.xml")
    if not os.path.isfile(path):
        _fail("site-local-config %s: file not found; check SITECONFIG_PATH=%s" % (path, siteconf))
    return path


def _parse_xml(path):
    try:
        return ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        _fail("site-local-config %s is not valid XML: %s" % (path, exc))
    except OSError as exc:
        _fail("site-local-config %s cannot be read: %s" % (path, exc))


def _require_child(parent, tag, path, where, fix):
    child = parent.find(tag)
    if child is None:
        _fail("site-local-config %s: no <%s> in %s; %s" % (path, tag, where, fix))
    return child


def _load_storage_json(path, method_text):
    if not os.path.isfile(path):
        _fail("storage.json %s (for %s): file not found" % (path, method_text))
    try:
        with open(path, encoding="utf-8") as source:
            entries = json.load(source)
    except ValueError as exc:
        _fail("storage.json %s (for %s) is not valid JSON: %s" % (path, method_text, exc))
    except OSError as exc:
        _fail("storage.json %s (for %s) cannot be read: %s" % (path, method_text, exc))
    if not isinstance(entries, list):
        _fail("storage.json %s (for %s): the top level must be a list of volumes" % (path, method_text))
    for index, entry in enumerate(entries):
        # WMCore reads "site" and "volume" of every entry, not only of the matching one.
        if not isinstance(entry, dict) or "site" not in entry or "volume" not in entry:
            _fail("storage.json %s: entry %d has no \"site\" or \"volume\"" % (path, index))
    return entries


def _check_volume(entries, path, method):
    """Check the storage.json entry of the method's site and volume, as readRFC will use it."""
    matching = [e for e in entries if e["site"] == method["storage_site"] and e["volume"] == method["volume"]]
    if not matching:
        _fail("storage.json %s has no entry with site %s and volume %s (used by %s)"
              % (path, method["storage_site"], method["volume"], method["text"]))
    entry = matching[0]
    if not entry.get("rse"):
        _fail("storage.json %s: volume %s has no \"rse\" (the PNN)" % (path, method["volume"]))
    protocols = entry.get("protocols")
    if not isinstance(protocols, list):
        _fail("storage.json %s: volume %s has no \"protocols\" list" % (path, method["volume"]))

    names = []
    for protocol in protocols:
        if not isinstance(protocol, dict) or "protocol" not in protocol:
            _fail("storage.json %s: volume %s has a protocol entry without \"protocol\""
                  % (path, method["volume"]))
        names.append(protocol["protocol"])
        rules = protocol.get("rules")
        if "prefix" not in protocol and not isinstance(rules, list):
            _fail("storage.json %s: protocol %s of volume %s has neither \"prefix\" nor \"rules\""
                  % (path, protocol["protocol"], method["volume"]))
        for rule in rules or []:
            if not isinstance(rule, dict) or "lfn" not in rule or "pfn" not in rule:
                _fail("storage.json %s: a rule of protocol %s of volume %s lacks \"lfn\" or \"pfn\""
                      % (path, protocol["protocol"], method["volume"]))
    if method["protocol"] not in names:
        _fail("storage.json %s: volume %s has no protocol %s (used by %s); protocols present: %s"
              % (path, method["volume"], method["protocol"], method["text"], ", ".join(names) or "none"))
    return entry["rse"]


def _read_methods(stage_out, path, site, subsite):
    methods = []
    for number, node in enumerate(list(stage_out), start=1):
        attributes = dict(node.attrib)
        text = "<stage-out> method %d (%s)" % (
            number, " ".join('%s="%s"' % item for item in sorted(attributes.items())) or "no attributes")
        if node.tag != "method":
            _fail("site-local-config %s: <%s> inside <stage-out>; only <method .../> elements belong there"
                  % (path, node.tag))
        for attribute in ("volume", "protocol", "command"):
            if not attributes.get(attribute):
                _fail("site-local-config %s: %s has no %s attribute; add %s=\"...\""
                      % (path, text, attribute, attribute))
        if attributes["command"] not in Registry.StageOutImpl:
            _fail("site-local-config %s: %s names an unknown command; WMCore knows: %s"
                  % (path, text, ", ".join(sorted(Registry.StageOutImpl))))
        methods.append({
            "number": number,
            "text": text,
            "command": attributes["command"],
            "option": attributes.get("option"),
            "volume": attributes["volume"],
            "protocol": attributes["protocol"],
            "storage_site": attributes.get("site") or site,
        })
    if not methods:
        _fail("site-local-config %s: <stage-out> has no <method .../>; add one with volume, protocol and "
              "command" % path)
    return methods


def check_site_conf(environ):
    """Validate the SITECONF that StageOutMgr will read and return it with one catalog per method."""
    path = locate_site_local_config(environ)
    root = _parse_xml(path)
    if root.tag != "site-local-config":
        _fail("site-local-config %s: the root element is <%s>, expected <site-local-config>"
              % (path, root.tag))

    site_node = _require_child(root, "site", path, "<site-local-config>", "add <site name=\"T2_XX_Name\">")
    site = site_node.get("name")
    if not site:
        _fail("site-local-config %s: <site> has no name attribute" % path)
    subsite_node = site_node.find("subsite")
    subsite = subsite_node.get("name") if subsite_node is not None else None

    event_data = _require_child(site_node, "event-data", path, "<site>",
                                "add <event-data><catalog url=\"...\"/></event-data>")
    _require_child(event_data, "catalog", path, "<event-data>", "add <catalog url=\"...\"/>")
    _require_child(site_node, "local-stage-out", path, "<site>", "add <local-stage-out/>")
    stage_out = _require_child(site_node, "stage-out", path, "<site>",
                               "add <stage-out> with <method volume=... protocol=... command=.../>")

    methods = []
    for method in _read_methods(stage_out, path, site, subsite):
        try:
            json_path = storageJsonPath(site, subsite, method["storage_site"])
        except RuntimeError as exc:
            _fail("cannot locate storage.json for %s: %s; set SITECONFIG_PATH" % (method["text"], exc))
        entries = _load_storage_json(json_path, method["text"])
        pnn = _check_volume(entries, json_path, method)
        try:
            catalog = readRFC(json_path, method["storage_site"], method["volume"], method["protocol"])
        except Exception as exc:  # WMCore raises RuntimeError, KeyError or re.error here.
            _fail("storage.json %s cannot be loaded by WMCore for %s: %s" % (json_path, method["text"], exc))
        methods.append(StageOutMethod(
            method["number"], method["command"], method["option"], method["volume"], method["protocol"],
            method["storage_site"], json_path, pnn, catalog,
        ))
    return SiteConf(path, site, subsite, methods)


def map_lfn(site_conf, lfn):
    """Return [(method, pfn)] for every method whose storage.json rules map the LFN."""
    mapped = []
    for method in site_conf.methods:
        pfn = method.catalog.matchLFN(method.protocol, lfn)
        if pfn:
            mapped.append((method, pfn))
    return mapped


def check_lfns_mapped(site_conf, lfns):
    """Reject the first LFN that no stage-out method can map to a PFN."""
    for lfn in lfns:
        if not map_lfn(site_conf, lfn):
            described = "; ".join(
                "%s protocol %s in %s" % (method.volume, method.protocol, method.storage_json)
                for method in site_conf.methods)
            _fail("no storage.json rule maps LFN %s (methods: %s); add a rule for it" % (lfn, described))
