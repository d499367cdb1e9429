#!/usr/bin/env python3
"""What the component's code is made of, crate by crate.

Reads a component built with its function names kept (`./dev deps` builds
one: the release profile, not stripped), attributes each function's code
bytes to the crate its name starts with, and prints the crates by size.
With --refuse PATTERN (repeatable), exits 1 if any function's name matches
the regular expression PATTERN; with --require PATTERN, if none does. `./dev deps` uses them to show
that RSA signature verification reaches the .wasm and no RSA private-key
operation does (RUSTSEC-2023-0071, deny.toml).

Only the standard library: it parses the binary format itself (component
sections, core module sections, the `name` custom section) and Rust's legacy
symbol mangling.
"""

import re
import sys
from collections import defaultdict


def leb(data, pos):
    """Unsigned LEB128 at pos: (value, next position)."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def sections(data):
    """(id, payload) of each section of a module or component."""
    assert data[:4] == b"\0asm", "not a WebAssembly binary"
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, pos = leb(data, pos + 1)
        yield sid, data[pos : pos + size]
        pos += size


def is_component(data):
    return data[6:8] == b"\x01\x00"  # layer 1: a component, 0: a core module


def core_modules(data):
    """Every core module inside a component (section 1), recursively."""
    if not is_component(data):
        yield data
        return
    for sid, payload in sections(data):
        if sid == 1:  # core module
            yield payload
        elif sid == 4:  # nested component
            yield from core_modules(payload)


def function_sizes(module):
    """{function index: (name, code bytes)} of one core module."""
    imported = 0
    bodies = []
    names = {}
    for sid, payload in sections(module):
        if sid == 2:  # imports: their functions come first in the index space
            count, pos = leb(payload, 0)
            for _ in range(count):
                for _ in range(2):  # module, field
                    n, pos = leb(payload, pos)
                    pos += n
                kind = payload[pos]
                pos += 1
                if kind == 0:
                    imported += 1
                    _, pos = leb(payload, pos)
                elif kind == 1:  # table: reftype, limits
                    pos += 1
                    flags, pos = leb(payload, pos + 0)
                    _, pos = leb(payload, pos)
                    if flags & 1:
                        _, pos = leb(payload, pos)
                elif kind == 2:  # memory: limits
                    flags, pos = leb(payload, pos)
                    _, pos = leb(payload, pos)
                    if flags & 1:
                        _, pos = leb(payload, pos)
                elif kind == 3:  # global: valtype, mutability
                    pos += 2
                else:  # tag
                    pos += 1
                    _, pos = leb(payload, pos)
        elif sid == 10:  # code
            count, pos = leb(payload, 0)
            for _ in range(count):
                size, pos = leb(payload, pos)
                bodies.append(size)
                pos += size
        elif sid == 0:  # custom
            n, pos = leb(payload, 0)
            if payload[pos : pos + n] != b"name":
                continue
            pos += n
            while pos < len(payload):
                sub = payload[pos]
                size, pos = leb(payload, pos + 1)
                end = pos + size
                if sub == 1:  # function names
                    count, p = leb(payload, pos)
                    for _ in range(count):
                        index, p = leb(payload, p)
                        n, p = leb(payload, p)
                        names[index] = payload[p : p + n].decode("utf-8", "replace")
                        p += n
                pos = end
    return {
        imported + i: (names.get(imported + i, f"<function {imported + i}>"), size)
        for i, size in enumerate(bodies)
    }


def demangle(name):
    """Rust's legacy mangling (`_ZN3foo3bar17h…E`) to `foo::bar`."""
    if not name.startswith("_ZN"):
        return name
    parts, pos = [], 3
    while pos < len(name) and name[pos].isdigit():
        digits = re.match(r"\d+", name[pos:]).group()
        pos += len(digits)
        parts.append(name[pos : pos + int(digits)])
        pos += int(digits)
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    text = "::".join(parts)
    for code, char in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"),
                       ("$C$", ","), ("$u7b$", "{"), ("$u7d$", "}"), ("..", "::")):
        text = text.replace(code, char)
    return text


def crate_of(name):
    """The crate a function belongs to: its path's first segment, or for
    `<T as Trait>::f` the crate of T (the code is T's)."""
    text = demangle(name).lstrip("_<&* ")
    text = re.sub(r"^(mut |dyn |\[)", "", text)
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", text)
    if match:
        return match.group(1)
    if name.startswith(("__", "$", "<")) or not name.startswith("_ZN"):
        return "(runtime and C: libc, allocator, adapter)"
    return "(unattributed)"


def main(argv):
    refuse, require, paths = [], [], []
    args = iter(argv)
    for arg in args:
        if arg == "--refuse":
            refuse.append(next(args))
        elif arg == "--require":
            require.append(next(args))
        else:
            paths.append(arg)
    if len(paths) != 1:
        sys.exit("usage: wasm-crates.py [--refuse PATTERN]... [--require PATTERN]... COMPONENT.wasm")
    data = open(paths[0], "rb").read()
    by_crate = defaultdict(int)
    refused = []
    found = set()
    named = total = 0
    for module in core_modules(data):
        for name, size in function_sizes(module).values():
            total += size
            named += not name.startswith("<function")
            by_crate[crate_of(name)] += size
            readable = demangle(name)
            refused += [readable for p in refuse if re.search(p, readable)]
            found |= {p for p in require if re.search(p, readable)}
    if named == 0:
        sys.exit(f"{paths[0]}: no function names (build it with strip = false)")
    print(f"{paths[0]}: {len(data):,} bytes, code {total:,} bytes in {len(by_crate)} crates")
    for crate, size in sorted(by_crate.items(), key=lambda kv: -kv[1]):
        if size * 1000 < total:  # under 0.1 %: counted above, not listed
            continue
        print(f"  {size:>9,}  {100 * size / total:5.1f} %  {crate}")
    failed = False
    for pattern in require:
        if pattern in found:
            print(f"ok: a function matches {pattern!r}")
        else:
            print(f"missing: no function matches {pattern!r}")
            failed = True
    if refused:
        print(f"refused: {len(refused)} functions match {refuse}:")
        for name in sorted(set(refused))[:20]:
            print(f"  {name}")
        failed = True
    for pattern in refuse:
        if not any(re.search(pattern, name) for name in refused):
            print(f"ok: no function matches {pattern!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
