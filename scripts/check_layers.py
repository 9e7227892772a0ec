#!/usr/bin/env python3
"""Checks the layering rules of ARCHITECTURE.md in every crate of the workspace:

- no import cycle between modules: among a crate's top-level modules, and among the sibling
  modules of every module (a child using its ancestors' items is inside them, not a cycle);
- no module file over 400 lines, tests aside (`tests.rs` files, `#[cfg(test)]` blocks), and
  no production function over 80 lines, in the product's crates (not the test harness).

Exits 1 and says what is wrong when a rule is broken.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Crate folder, and whether the size rules apply to it.
CRATES = {"shared": True, "backend": True, "frontend": True, "tests": False}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def module_path(src: pathlib.Path, file: pathlib.Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def production_lines(text: str) -> list:
    """The file's lines with `#[cfg(test)]` items blanked out."""
    lines = text.split("\n")
    out, skipping, depth = [], False, 0
    for index, line in enumerate(lines):
        if not skipping and line.strip() == "#[cfg(test)]":
            skipping, depth = True, None
            out.append("")
            continue
        if skipping:
            opens, closes = line.count("{"), line.count("}")
            if depth is None:
                if opens:
                    depth = opens - closes
                    if depth <= 0:
                        skipping = False
                elif line.rstrip().endswith(";"):
                    skipping = False
            else:
                depth += opens - closes
                if depth <= 0:
                    skipping = False
            out.append("")
            continue
        out.append(line)
    return out


def references(module: tuple, text: str, known: set) -> set:
    """Modules this file names through `crate::…` or `super::…` paths."""
    found = set()
    for match in re.finditer(r"\b(crate|super)((?:::\w+)+)", text):
        root, rest = match.group(1), match.group(2).split("::")[1:]
        if root == "crate":
            base = []
        else:
            base = list(module)
            base.pop() if base else None
            while rest and rest[0] == "super":
                rest.pop(0)
                base.pop() if base else None
        path = tuple(base)
        for part in rest:
            if path + (part,) in known:
                path = path + (part,)
            else:
                break
        found.add(path)
    # `use crate::{a, b}` groups
    for match in re.finditer(r"\buse crate::\{([^}]*)\}", text):
        for name in re.findall(r"(?:^|,)\s*(\w+)", match.group(1)):
            if (name,) in known:
                found.add((name,))
    return found


def find_cycle(graph: dict):
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def long_functions(file: pathlib.Path, lines: list):
    for index, line in enumerate(lines):
        if re.match(r"\s*(pub(\([^)]*\))?\s+)?(async\s+)?fn\s+\w+", line):
            indent = len(line) - len(line.lstrip())
            for end in range(index + 1, len(lines)):
                closing = lines[end]
                if closing.strip() == "}" and len(closing) - len(closing.lstrip()) == indent:
                    if end - index + 1 > MAX_FUNCTION_LINES:
                        name = re.search(r"fn\s+(\w+)", line).group(1)
                        yield f"{file.relative_to(ROOT)}:{index + 1}: fn {name} has {end - index + 1} lines"
                    break
                if closing.rstrip().endswith(";") and end == index:
                    break


def main() -> int:
    problems = []
    for crate, sized in CRATES.items():
        src = ROOT / crate / "src"
        files = {
            module_path(src, file): file
            for file in src.rglob("*.rs")
            if "bin" not in file.relative_to(src).parts and file.name != "tests.rs"
        }
        known = set(files)
        edges = {}
        for module, file in files.items():
            lines = production_lines(file.read_text())
            if sized:
                if len([line for line in lines if line.strip()]) > MAX_MODULE_LINES:
                    problems.append(f"{file.relative_to(ROOT)}: {len(lines)} lines outside tests")
                problems.extend(long_functions(file, lines))
            code = "\n".join(re.sub(r"//.*", "", line) for line in lines)
            for target in references(module, code, known):
                # Compare at the level where the two paths part: siblings under their common parent.
                common = 0
                while common < min(len(module), len(target)) and module[common] == target[common]:
                    common += 1
                if common >= len(target) or common >= len(module):
                    continue  # an ancestor or a descendant
                edges.setdefault(module[: common + 1], set()).add(target[: common + 1])
        cycle = find_cycle(edges)
        if cycle:
            problems.append(f"{crate}: import cycle " + " -> ".join("::".join(m) for m in cycle))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
