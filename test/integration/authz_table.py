#!/usr/bin/env python3
"""The admin API's authorisation table, read from the route tables in
cmd/api*.c, as the Markdown table docs/ADMIN.md shows (issue 14).

    python3 test/integration/authz_table.py            print the table
    python3 test/integration/authz_table.py --update   rewrite docs/ADMIN.md's

test_admin_api.py checks that docs/ADMIN.md's table (between the
<!-- authz:begin --> and <!-- authz:end --> markers) is this one, so the
documentation cannot drift from the code that decides.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
# cmd/api.c tries the tables in this order (its tables[])
ORDER = ["core", "upload", "serials", "anchors", "certs", "audit", "check", "page"]
FILES = {"core": "api.c"}
BITS = {"API_ROLE_OPERATOR": 1, "API_ROLE_AUDITOR": 2, "API_ROLE_VENDOR": 4,
        "API_ROLE_FACTORY": 8, "API_PUBLIC": 16}
BITS["API_ROLES_ALL"] = 15
BITS["API_ROLES_READ"] = 7
# routes without {vendor} whose handlers confine vendor:X to X's data
# (api_scope): the vendor list shows X only, certificates X's devices only
SCOPED = {"vendors", "certificates", "certificates/{serial}"}
METHODS = {"API_GET": ["GET", "HEAD"], "API_POST": ["POST"], "API_PUT": ["PUT"],
           "API_DELETE": ["DELETE"], "API_PATCH": ["PATCH"]}
ROW = re.compile(r'\{\s*"([^"]+)",\s*([A-Z_| ]+?),\s*([A-Z_| ]+?),\s*h_\w+\s*\}')
DEFINE = re.compile(r'^#define\s+(\w+)\s+\(?([A-Z_| ]+)\)?\s*$', re.M)


def evaluate(expr, defs):
    v = 0
    for name in (x.strip() for x in expr.split("|")):
        if name in BITS:
            v |= BITS[name]
        elif name in defs:
            v |= evaluate(defs[name], defs)
        else:
            raise SystemExit("authz_table.py: unknown role name %s" % name)
    return v


def routes():
    out = []
    for area in ORDER:
        path = os.path.join(ROOT, "cmd", FILES.get(area, "api_%s.c" % area))
        src = open(path).read()
        m = re.search(r"const struct api_route api_routes_%s\[\] = \{(.*?)\n\};" % area, src,
                      re.S)
        if not m:
            raise SystemExit("authz_table.py: no api_routes_%s in %s" % (area, path))
        defs = dict(DEFINE.findall(src))
        for pat, meth, roles in ROW.findall(m.group(1)):
            names = []
            for x in meth.split("|"):
                names += METHODS[x.strip()]
            out.append((pat, names, evaluate(roles, defs)))
    return out


def cell(bits, bit, pat):
    if bits & BITS["API_PUBLIC"]:
        return "anyone"
    if not bits & bit:
        return "403"
    if bit in (4, 8) and "{vendor}" in pat:
        return "X only"
    if bit in (4, 8) and pat in SCOPED:
        return "X's only"
    return "yes"


def table():
    lines = ["| method and path | operator | auditor | vendor:X | factory:X |",
             "|---|---|---|---|---|"]
    for pat, methods, bits in routes():
        path = pat if pat.startswith("/") else "/api/v1/" + pat
        m = "GET, HEAD" if methods == ["GET", "HEAD"] else ", ".join(methods)
        lines.append("| `%s %s` | %s |" % (m, path, " | ".join(
            cell(bits, b, pat) for b in (1, 2, 4, 8))))
    return "\n".join(lines) + "\n"


def doc_path():
    return os.path.join(ROOT, "docs", "ADMIN.md")


def doc_table():
    s = open(doc_path()).read()
    m = re.search(r"<!-- authz:begin -->\n(.*?)<!-- authz:end -->", s, re.S)
    return m.group(1) if m else None


if __name__ == "__main__":
    if "--update" in sys.argv:
        s = open(doc_path()).read()
        new, n = re.subn(r"(<!-- authz:begin -->\n).*?(<!-- authz:end -->)",
                         lambda m: m.group(1) + table() + m.group(2), s, flags=re.S)
        if n != 1:
            raise SystemExit("docs/ADMIN.md has no <!-- authz:begin/end --> markers")
        open(doc_path(), "w").write(new)
    else:
        sys.stdout.write(table())
