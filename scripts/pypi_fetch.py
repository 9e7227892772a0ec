#!/usr/bin/env python3
"""Downloads exact PyPI release files (wheel or sdist) without building anything.

pip download would run an sdist's setup.py; the Flink 1.x packages are sdists whose build
needs far more than we want, and all we need are the jars inside.
usage: pypi_fetch.py DEST NAME==VERSION [NAME==VERSION ...]
"""
import json
import os
import sys
import urllib.request


def pick(files):
    # Prefer a pure wheel, then this interpreter's cp311 wheel, then the sdist.
    for pred in (lambda f: f.endswith("none-any.whl"),
                 lambda f: "cp311" in f and "manylinux" in f and "x86_64" in f,
                 lambda f: f.endswith(".tar.gz")):
        for entry in files:
            if pred(entry["filename"]):
                return entry
    raise SystemExit(f"no usable file among {[f['filename'] for f in files]}")


def main():
    dest, specs = sys.argv[1], sys.argv[2:]
    os.makedirs(dest, exist_ok=True)
    for spec in specs:
        name, version = spec.split("==")
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=120) as resp:
            releases = json.load(resp)["releases"]
        if version not in releases:
            raise SystemExit(f"{name} has no release {version}")
        entry = pick(releases[version])
        target = os.path.join(dest, entry["filename"])
        if not os.path.exists(target):
            tmp = target + ".part"
            urllib.request.urlretrieve(entry["url"], tmp)
            os.rename(tmp, target)
        print(target)


if __name__ == "__main__":
    main()
