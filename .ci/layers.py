#!/usr/bin/env python3
"""Checks that each layer of src/ imports only the layers below it.

The layers, bottom first (see src/lib.rs): a module may name (through
`crate::...`) only modules of a lower layer, or itself. A name re-exported
at the crate root (`crate::Error`) counts as the module that defines it.
Exits non-zero, listing every violation, when a lower layer names a higher
one.
"""
import os
import re
import sys

LAYERS = [
    ["error", "sync"],
    ["object"],
    ["exec"],
    ["task"],
    ["actor"],
    ["backend"],
    ["runtime"],
    ["api"],
    ["util"],
]
LEVEL = {m: i for i, ms in enumerate(LAYERS) for m in ms}

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
lib = open(os.path.join(root, "lib.rs")).read()
reexport = {}
for m in re.finditer(r"pub use (?:crate::)?(\w+)::(?:[\w:]*::)?(\{[^}]*\}|\w+)", lib):
    for name in re.findall(r"\w+", m.group(2)):
        reexport.setdefault(name, m.group(1))

def files(module):
    path = os.path.join(root, module)
    if os.path.isdir(path):
        for d, _, fs in os.walk(path):
            for f in fs:
                if f.endswith(".rs"):
                    yield os.path.join(d, f)
    elif os.path.exists(path + ".rs"):
        yield path + ".rs"

bad = []
for module, level in LEVEL.items():
    for f in files(module):
        text = open(f).read()
        # Unit tests may build whole runtimes: only production code counts.
        test_mod = re.search(r"#\[cfg\(test\)\]\s*mod tests", text)
        if test_mod:
            text = text[: test_mod.start()]
        text = re.sub(r"//[^\n]*", "", text)
        for n, line in enumerate(text.split("\n"), 1):
            for name in re.findall(r"\bcrate::(\w+)", line):
                target = name if name in LEVEL else reexport.get(name)
                if target in LEVEL and LEVEL[target] > level:
                    bad.append(f"{os.path.relpath(f, root)}:{n}: `{module}` names `crate::{name}` ({target}, a higher layer)")
missing = [m for m in os.listdir(root) if os.path.isdir(os.path.join(root, m)) and m not in LEVEL]
for m in missing:
    bad.append(f"src/{m}/ is in no layer: add it to .ci/layers.py and src/lib.rs")
if bad:
    print("layering violations:")
    print("\n".join(bad))
    sys.exit(1)
print("layers ok: " + " < ".join("/".join(ms) for ms in LAYERS))
