#!/usr/bin/env python3
"""Check every `#include "..."` in src/ against the module table of docs/ARCHITECTURE.md.

Usage: python3 scripts/check_includes.py [--root DIR]

The rules are read from the `<!-- module-deps ... -->` block below the table in
"Modules and targets" of docs/ARCHITECTURE.md, one line per module:

    model: core                       model may include core's headers
    providers/*: core sync/calendar_side.h
                                      every folder under src/providers is a module;
                                      a dependency is a module or one header
    scheduler (pair_lease*): store    extra dependencies for the files of a module
                                      whose path (inside the module) matches the glob
    apps: *                           everything

Dependencies on modules are transitive (what a dependency may include, its user may
include too). A module may always include its own headers. Unit tests (*_test.cc)
follow the rules of their module. System includes (<...>) and quoted includes that
do not start with a module folder (e.g. "tests/...") are not checked. A quoted include
that starts with a module folder must name a file under src/.

Exit status: 0 clean, 1 violations (one line each on stdout), 2 usage or parse error.
"""

import argparse
import fnmatch
import re
import sys
from pathlib import Path

DOC = "docs/ARCHITECTURE.md"
BLOCK_RE = re.compile(r"<!--\s*module-deps\b(.*?)-->", re.S)
RULE_RE = re.compile(
    r"^(?P<module>[A-Za-z0-9_]+(?:/(?:[A-Za-z0-9_]+|\*))?)"  # core, providers/*
    r"\s*(?:\((?P<files>[^()]+)\))?"                          # optional (glob)
    r"\s*:(?P<deps>.*)$")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
SOURCE_SUFFIXES = (".h", ".cc")


class ParseError(Exception):
    pass


class Rule:
    def __init__(self, module, files, deps, line):
        self.module = module  # "core" or "providers/*"
        self.files = files    # glob inside the module, or None for the module itself
        self.deps = deps      # list of tokens: module keys, headers, or "*"
        self.line = line      # line number in docs/ARCHITECTURE.md


def is_header(token):
    return "/" in token and token.endswith(".h")


def parse_rules(doc_text):
    """Returns (module rules by key, file rules) from the module-deps block."""
    blocks = list(BLOCK_RE.finditer(doc_text))
    if not blocks:
        raise ParseError(f"{DOC}: no <!-- module-deps ... --> block found")
    if len(blocks) > 1:
        raise ParseError(f"{DOC}: more than one module-deps block")
    block = blocks[0]
    first_line = doc_text.count("\n", 0, block.start(1)) + 1

    modules, file_rules = {}, []
    for offset, raw in enumerate(block.group(1).split("\n")):
        line_no = first_line + offset
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        match = RULE_RE.match(text)
        if not match:
            raise ParseError(f"{DOC}:{line_no}: cannot read module-deps line: {raw.strip()}")
        rule = Rule(match["module"], match["files"] and match["files"].strip(),
                    match["deps"].split(), line_no)
        if rule.files:
            file_rules.append(rule)
        elif rule.module in modules:
            raise ParseError(f"{DOC}:{line_no}: module {rule.module} is listed twice")
        else:
            modules[rule.module] = rule
    if not modules:
        raise ParseError(f"{DOC}: the module-deps block lists no modules")

    for rule in list(modules.values()) + file_rules:
        if rule.module not in modules:
            raise ParseError(f"{DOC}:{rule.line}: {rule.module} has no module line")
        for token in rule.deps:
            if token != "*" and not is_header(token) and token not in modules:
                raise ParseError(f"{DOC}:{rule.line}: unknown module {token}")
    for key in modules:
        if key in closure(modules, key, modules[key].deps)[0]:
            raise ParseError(f"{DOC}:{modules[key].line}: dependency cycle through {key}")
    return modules, file_rules


def closure(modules, owner, tokens):
    """Module keys and headers reachable from tokens (owner's own "*" excludes owner)."""
    keys, headers = set(), set()
    todo = [(owner, token) for token in tokens]
    while todo:
        source, token = todo.pop()
        if is_header(token):
            headers.add(token)
            continue
        targets = [k for k in modules if k != source] if token == "*" else [token]
        for key in targets:
            if key not in keys:
                keys.add(key)
                todo.extend((key, dep) for dep in modules[key].deps)
    return keys, headers


class Modules:
    """Maps paths (relative to src/) to module names and module names to rule keys."""

    def __init__(self, rules):
        self.rules = rules
        self.families = {k[:-2] for k in rules if k.endswith("/*")}  # "providers"

    def module_of(self, rel_path):
        parts = rel_path.split("/")
        depth = 2 if parts[0] in self.families else 1
        if len(parts) <= depth:
            return None  # a file directly in src/ or src/providers/
        return "/".join(parts[:depth])

    def key_of(self, module):
        if module in self.rules:
            return module
        family = module.split("/")[0]
        if family in self.families and "/" in module:
            return family + "/*"
        return None


def source_files(src):
    return sorted(p for p in src.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES)


def check(root):
    doc_path, src = root / DOC, root / "src"
    if not doc_path.is_file():
        raise ParseError(f"{doc_path}: not found")
    if not src.is_dir():
        raise ParseError(f"{src}: not a folder")
    rules, file_rules = parse_rules(doc_path.read_text(encoding="utf-8"))
    mods = Modules(rules)
    problems = []

    for rule in list(rules.values()) + file_rules:
        for token in rule.deps:
            if is_header(token) and not (src / token).is_file():
                problems.append(f"{DOC}:{rule.line}: module-deps names {token}, "
                                "which does not exist under src/")

    # Every folder under src/ (and under src/providers/) must have a line.
    folders = [d for d in sorted(src.iterdir()) if d.is_dir()]
    for folder in folders:
        if folder.name in mods.families:
            names = [f"{folder.name}/{d.name}" for d in sorted(folder.iterdir()) if d.is_dir()]
        else:
            names = [folder.name]
        for name in names:
            if mods.key_of(name) is None:
                problems.append(f"src/{name}: module folder not listed in the module-deps "
                                f"block of {DOC}")
    module_folders = {d.name for d in folders} | {k.split("/")[0] for k in rules}

    for path in source_files(src):
        rel = path.relative_to(src).as_posix()
        module = mods.module_of(rel)
        key = module and mods.key_of(module)
        if key is None:
            if module is None:
                problems.append(f"src/{rel}: not inside a module folder")
            continue  # the folder itself is reported above
        inside = rel[len(module) + 1:]
        tokens = list(rules[key].deps)
        for rule in file_rules:
            if rule.module == key and (fnmatch.fnmatch(inside, rule.files)
                                       or fnmatch.fnmatch(path.name, rule.files)):
                tokens += [t for t in rule.deps if t not in tokens]
        allowed_keys, allowed_headers = closure(rules, key, tokens)
        if tokens:
            names = ["everything" if t == "*" else t for t in tokens]
            allowed_text = "may use only: " + ", ".join(names)
        else:
            allowed_text = "may use no other module"

        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        for line_no, line in enumerate(lines, start=1):
            match = INCLUDE_RE.match(line)
            if not match:
                continue
            header = match.group(1)
            if header.split("/")[0] not in module_folders:
                continue  # not a src/ module header, e.g. "tests/faulty_dav/..."
            where = f"src/{rel}:{line_no}"
            if not (src / header).is_file():
                problems.append(f"{where}: includes {header}, which does not exist under src/")
                continue
            target = mods.module_of(header)
            if target == module:
                continue
            if mods.key_of(target or "") in allowed_keys or header in allowed_headers:
                continue
            problems.append(f"{where}: includes {header} (module {target}), but {module} "
                            f"{allowed_text} ({DOC})")
    return problems


def main(argv):
    parser = argparse.ArgumentParser(
        description="Check #include lines in src/ against the module table of " + DOC)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="repository root (default: the one this script is in)")
    args = parser.parse_args(argv)  # exits 2 on a usage error
    try:
        problems = check(args.root)
    except ParseError as error:
        print(f"check_includes: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_includes: {len(problems)} problem(s); the rules are in the "
              f"module-deps block of {DOC}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
