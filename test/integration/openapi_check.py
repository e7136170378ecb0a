#!/usr/bin/env python3
"""Validate admin API responses against the OpenAPI 3.0 document (issue 14).

load_spec() merges docs/openapi.json with docs/openapi/*.json exactly as the
build does (cmd/embed_text.py), so a test can check that the served document
is the repository's. validate(spec, method, path, status, ctype, body)
returns a list of errors (empty: the response is one the document
describes): the path must match a documented template, the method an
operation, the status a documented response (or "default"), the
Content-Type one of its media types, and a JSON body its schema.

The schema check covers the OpenAPI 3.0 subset the document uses: $ref,
type (with nullable), enum, required, properties, additionalProperties,
items, minItems/maxItems, minLength/maxLength, pattern, minimum/maximum,
oneOf/anyOf/allOf, format date-time (RFC 3339 shape). An unknown keyword is
an error, so the document cannot silently use what is not checked.

Tests call Recorder.check() for every response they receive; at the end
Recorder.report(t) asserts that none failed and names what was checked.
"""
import glob
import json
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "cmd"))
import embed_text  # noqa: E402

KNOWN = {"$ref", "type", "nullable", "enum", "required", "properties", "additionalProperties",
         "items", "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum",
         "maximum", "oneOf", "anyOf", "allOf", "format", "description", "example", "title",
         "readOnly", "default", "deprecated", "examples"}
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def fragments():
    return sorted(glob.glob(os.path.join(ROOT, "docs", "openapi", "*.json")))


def load_spec():
    """The document the build embeds (base + fragments, merged)."""
    frags = [p for p in fragments()]
    order = ["upload", "serials", "anchors", "certs", "audit", "check", "page"]
    frags.sort(key=lambda p: order.index(os.path.basename(p)[:-5])
               if os.path.basename(p)[:-5] in order else 99)
    return embed_text.load_merged(os.path.join(ROOT, "docs", "openapi.json"), frags)


def resolve(spec, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("external $ref " + ref)
        cur = spec
        for part in ref[2:].split("/"):
            cur = cur[part]
        node = cur
        seen += 1
        if seen > 20:
            raise ValueError("$ref loop at " + ref)
    return node


def check(spec, sch, v, where, errs):
    sch = resolve(spec, sch)
    unknown = set(sch) - KNOWN
    if unknown:
        errs.append("%s: schema uses unchecked keywords %s" % (where, sorted(unknown)))
    if v is None:
        if sch.get("nullable") or not sch.get("type") and not any(
                k in sch for k in ("oneOf", "anyOf", "allOf", "enum")):
            return
        if "oneOf" in sch or "anyOf" in sch:
            pass
        else:
            errs.append("%s: null where the schema does not allow it" % where)
            return
    if "allOf" in sch:
        for i, s in enumerate(sch["allOf"]):
            check(spec, s, v, where, errs)
    for key in ("oneOf", "anyOf"):
        if key in sch:
            hits = 0
            for s in sch[key]:
                e = []
                check(spec, s, v, where, e)
                hits += not e
            if (key == "oneOf" and hits != 1) or (key == "anyOf" and hits < 1):
                errs.append("%s: %d of the %s alternatives match" % (where, hits, key))
    t = sch.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t in types:
        if not isinstance(v, types[t]):
            errs.append("%s: %r is not of type %s" % (where, v, t))
            return
    elif t == "integer":
        if not isinstance(v, int) or isinstance(v, bool):
            errs.append("%s: %r is not an integer" % (where, v))
            return
    elif t == "number":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            errs.append("%s: %r is not a number" % (where, v))
            return
    elif t is not None:
        errs.append("%s: unknown type %s" % (where, t))
    if "enum" in sch and v not in sch["enum"]:
        errs.append("%s: %r not in %s" % (where, v, sch["enum"]))
    if isinstance(v, str):
        if len(v) < sch.get("minLength", 0) or len(v) > sch.get("maxLength", 1 << 60):
            errs.append("%s: length %d outside [%s, %s]" % (where, len(v), sch.get("minLength"),
                                                           sch.get("maxLength")))
        if "pattern" in sch and not re.search(sch["pattern"], v):
            errs.append("%s: %r does not match %s" % (where, v, sch["pattern"]))
        if sch.get("format") == "date-time" and not DATE_TIME.match(v):
            errs.append("%s: %r is not a date-time" % (where, v))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in sch and v < sch["minimum"]:
            errs.append("%s: %r below %s" % (where, v, sch["minimum"]))
        if "maximum" in sch and v > sch["maximum"]:
            errs.append("%s: %r above %s" % (where, v, sch["maximum"]))
    if isinstance(v, list):
        if len(v) < sch.get("minItems", 0) or len(v) > sch.get("maxItems", 1 << 60):
            errs.append("%s: %d items outside bounds" % (where, len(v)))
        if "items" in sch:
            for i, x in enumerate(v):
                check(spec, sch["items"], x, "%s[%d]" % (where, i), errs)
    if isinstance(v, dict):
        for r in sch.get("required", []):
            if r not in v:
                errs.append("%s: required field %s missing" % (where, r))
        props = sch.get("properties", {})
        for k, x in v.items():
            if k in props:
                check(spec, props[k], x, "%s.%s" % (where, k), errs)
            else:
                ap = sch.get("additionalProperties", True)
                if ap is False:
                    errs.append("%s: field %s is not in the schema" % (where, k))
                elif isinstance(ap, dict):
                    check(spec, ap, x, "%s.%s" % (where, k), errs)


def match_path(spec, path):
    """The documented template path (below /api/v1) matches, or None."""
    if path.startswith("/api/v1"):
        path = path[len("/api/v1"):]
    path = path.split("?")[0]
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    segs = path.split("/")
    for tmpl in spec["paths"]:
        ts = tmpl.split("/")
        if len(ts) == len(segs) and all(t == s or (t.startswith("{") and t.endswith("}") and s)
                                        for t, s in zip(ts, segs)):
            return tmpl
    return None


def validate(spec, method, path, status, ctype, body):
    """Errors of one response (body: bytes or parsed JSON)."""
    tmpl = match_path(spec, path)
    if tmpl is None:
        if status == 404 and "Problem" in spec["components"]["schemas"]:
            errs = []  # an unknown path: the problem document only
            check(spec, {"$ref": "#/components/schemas/Problem"},
                  json.loads(body) if isinstance(body, (bytes, str)) else body,
                  "%s %s 404" % (method, path), errs)
            return errs
        return ["%s %s: path not documented" % (method, path)]
    item = spec["paths"][tmpl]
    op = item.get(method.lower()) or (item.get("get") if method == "HEAD" else None)
    if op is None:
        if status == 405:
            return []
        return ["%s %s: method not documented" % (method, tmpl)]
    resps = op.get("responses", {})
    r = resps.get(str(status)) or resps.get("%dXX" % (status // 100)) or resps.get("default")
    if r is None:
        return ["%s %s: status %d not documented" % (method, tmpl, status)]
    r = resolve(spec, r)
    content = r.get("content")
    if method == "HEAD" or not content:
        return []
    mt = (ctype or "").split(";")[0].strip().lower()
    if mt not in content:
        return ["%s %s %d: Content-Type %s not documented (%s)"
                % (method, tmpl, status, mt, sorted(content))]
    sch = content[mt].get("schema")
    if sch is None or not (mt.endswith("json")):
        return []
    if isinstance(body, (bytes, bytearray, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return ["%s %s %d: body is not JSON" % (method, tmpl, status)]
    errs = []
    check(spec, sch, body, "%s %s %d" % (method, tmpl, status), errs)
    return errs


class Recorder:
    """Collects validation results of every response a test received."""

    def __init__(self, spec=None):
        self.spec = spec or load_spec()
        self.n = 0
        self.errors = []
        self.seen = set()

    def check(self, method, path, status, ctype, body):
        self.n += 1
        tmpl = match_path(self.spec, path)
        self.seen.add((method, tmpl, status))
        self.errors.extend(validate(self.spec, method, path, status, ctype, body))

    def report(self, t, what="admin API"):
        t.ok(self.n > 0 and not self.errors,
             "%d %s responses (%d distinct method/path/status) match openapi.json"
             % (self.n, what, len(self.seen)), self.errors[:20])


if __name__ == "__main__":
    # self-test: every documented schema only uses checked keywords
    spec = load_spec()
    errs = []
    for name, s in spec["components"]["schemas"].items():
        check(spec, {"$ref": "#/components/schemas/" + name}, {}, name, [])
    print("ok" if not errs else errs)
