#!/usr/bin/env python3
"""Assembles a runnable FLINK_HOME from the apache-flink PyPI packages.

2.x ships wheels (pyflink/lib, opt, plugins from apache-flink-libraries; pyflink/bin and conf
from apache-flink); 1.x ships sdists holding the same folders under deps/. Both are unpacked
into DEST/{bin,conf,lib,opt,plugins}.
usage: assemble_flink.py DOWNLOAD_DIR DEST
"""
import os
import shutil
import stat
import sys
import tarfile
import zipfile

KEEP = {"bin", "conf", "lib", "opt", "plugins"}
ROOTS = ("pyflink", "deps")


def target_for(member):
    parts = member.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in ROOTS and parts[i + 1] in KEEP and len(parts) > i + 2 and parts[-1]:
            return "/".join(parts[i + 1:])
    return None


def write(dest, rel, data):
    path = os.path.join(dest, rel)
    # The first archive to provide a file wins: libraries come before apache-flink, so the
    # python scripts that apache-flink puts in bin/ do not replace the shell ones.
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)


def main():
    src, dest = sys.argv[1], sys.argv[2]
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    files = sorted(os.listdir(src), key=lambda f: (0 if "libraries" in f else 1, f))
    for name in files:
        path = os.path.join(src, name)
        if name.endswith(".whl"):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    rel = target_for(info.filename)
                    if rel:
                        write(dest, rel, archive.read(info))
        elif name.endswith(".tar.gz"):
            with tarfile.open(path) as archive:
                for info in archive:
                    rel = target_for(info.name)
                    if rel and info.isfile():
                        write(dest, rel, archive.extractfile(info).read())
    bin_dir = os.path.join(dest, "bin")
    if not os.path.exists(os.path.join(bin_dir, "jobmanager.sh")):
        raise SystemExit(f"no bin/jobmanager.sh assembled from {files}")
    for entry in os.listdir(bin_dir):
        p = os.path.join(bin_dir, entry)
        os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


if __name__ == "__main__":
    main()
