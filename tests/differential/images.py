"""Reading built images back and comparing them (part of tests/differential/run).

Both builders' outputs go through the same independent tools: skopeo turns
an oci-archive or docker-archive into an OCI layout, umoci unpacks that
layout (checking every digest on the way), and the root filesystem is then
walked with lstat. Nothing here trusts rbuild's own reading of an image.
"""

import hashlib
import json
import os
import shutil
import stat
import tarfile
from pathlib import Path

from engines import run

# Entries a runtime leaves behind as mount points (BuildKit's runc creates
# /dev, /proc, /sys and the /etc files it bind-mounts; docker adds
# /.dockerenv). They carry no content, so an empty one on either side is
# ignored; anything with content in them is still reported.
MOUNT_DIRS = ("/proc", "/sys", "/dev")
MOUNT_FILES = ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/.dockerenv")

# The config fields a Dockerfile controls. ArgsEscaped is left out on
# purpose: it only says how Windows should join Cmd, and BuildKit sets it
# inconsistently across versions.
CONFIG_FIELDS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts",
                 "Volumes", "StopSignal", "Labels", "Shell", "Healthcheck", "OnBuild"]


def unpack(archive, kind, dest):
    """Unpack an `oci-archive` or `docker-archive` into dest; return (rootfs, image).

    The root filesystem goes through skopeo (archive to OCI layout) and
    `umoci raw unpack` (which re-checks every digest; plain `umoci unpack`
    would also resolve the config's user in the image's /etc/passwd and give
    up when a case replaced that file). The config is read from the archive
    itself: skopeo's docker-to-OCI conversion drops the fields OCI lacks
    (Healthcheck, Shell, OnBuild)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    layout = dest / "layout"
    run(["skopeo", "copy", "--quiet", f"{kind}:{archive}", f"oci:{layout}:img"])
    run(["umoci", "raw", "unpack", "--image", f"{layout}:img", dest / "rootfs"])
    return dest / "rootfs", read_image(archive, kind)


def read_image(archive, kind):
    """{"config": image config JSON, "layers": number of layers} from an archive."""
    with tarfile.open(archive) as t:
        def member(name):
            return t.extractfile(name.removeprefix("./")).read()

        if kind == "docker-archive":
            manifest = json.loads(member("manifest.json"))[0]
            return {"config": json.loads(member(manifest["Config"])),
                    "layers": len(manifest["Layers"])}
        index = json.loads(member("index.json"))
        desc = index["manifests"][0]
        blob = lambda d: member("blobs/" + d.replace(":", "/"))
        manifest = json.loads(blob(desc["digest"]))
        if "manifests" in manifest:  # a nested index: take its first image
            manifest = json.loads(blob(manifest["manifests"][0]["digest"]))
        return {"config": json.loads(blob(manifest["config"]["digest"])),
                "layers": len(manifest["layers"])}


def file_hash(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def tree(root):
    """{path: description} for every entry under root, not following symlinks.

    A description is a dict so that a difference can be reported field by
    field. Regular files with more than one link get "hardlink": the first
    path (in sorted order) of their group, so hard-link grouping is compared
    as well."""
    root = Path(root)
    out, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = "/" + str(p.relative_to(root))
            st = os.lstat(p)
            d = {"uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISLNK(st.st_mode):
                d.update(type="symlink", target=os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                d.update(type="dir", mode=oct(stat.S_IMODE(st.st_mode)))
            elif stat.S_ISREG(st.st_mode):
                d.update(type="file", mode=oct(stat.S_IMODE(st.st_mode)), size=st.st_size,
                         sha256=file_hash(p))
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                d.update(type="chardev" if stat.S_ISCHR(st.st_mode) else "blockdev",
                         mode=oct(stat.S_IMODE(st.st_mode)),
                         rdev=f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}")
            elif stat.S_ISFIFO(st.st_mode):
                d.update(type="fifo", mode=oct(stat.S_IMODE(st.st_mode)))
            else:
                d.update(type="other", mode=oct(st.st_mode))
            out[rel] = d
    for paths in inodes.values():
        if len(paths) > 1:
            first = min(paths)
            for p in paths:
                out[p]["hardlink"] = first
    return out


def drop_mount_points(t):
    """Remove the empty runtime mount points (see MOUNT_DIRS/MOUNT_FILES)."""
    def is_artifact(path, d):
        for top in MOUNT_DIRS:
            if path == top:
                return d["type"] == "dir"
            if path.startswith(top + "/"):
                # only empty dirs and empty files below them
                return d["type"] == "dir" or (d["type"] == "file" and d["size"] == 0)
        if path in MOUNT_FILES:
            return d["type"] == "file" and d["size"] == 0
        return False

    t = {p: d for p, d in t.items() if not is_artifact(p, d)}
    # A mount dir that still has content was kept; keep its parents too.
    return t


def compare_trees(mine, ref):
    """Differences between rbuild's tree and the reference's, one line each."""
    mine, ref = drop_mount_points(mine), drop_mount_points(ref)
    out = []
    for p in sorted(set(mine) | set(ref)):
        a, b = mine.get(p), ref.get(p)
        if a is None:
            out.append(f"missing in rbuild: {p} (BuildKit: {fmt(b)})")
        elif b is None:
            out.append(f"extra in rbuild: {p} {fmt(a)} (BuildKit has no such path)")
        elif a != b:
            fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            diffs = ", ".join(f"{k} rbuild={a.get(k)!r} BuildKit={b.get(k)!r}" for k in fields)
            out.append(f"differs {p}: {diffs}")
    return out


def fmt(d):
    return " ".join(f"{k}={v}" for k, v in d.items())


def empty(v):
    return v in (None, [], {}, "")


def config_fields(image):
    """The compared config fields, with absent and empty treated alike."""
    c = image["config"].get("config") or {}
    return {k: (None if empty(c.get(k)) else c.get(k)) for k in CONFIG_FIELDS}


def history_shape(image):
    """[(instruction, empty_layer)] for every history entry.

    created_by texts differ in detail between builders (BuildKit appends
    "# buildkit", records build args as "|N k=v"), so only the instruction
    word is kept; the base image's entry has none and is kept as ''."""
    out = []
    for h in image["config"].get("history") or []:
        words = (h.get("created_by") or "").split()
        out.append((words[0] if words else "", bool(h.get("empty_layer"))))
    return out


def compare_images(mine, ref):
    out = []
    a, b = config_fields(mine), config_fields(ref)
    for k in CONFIG_FIELDS:
        if a[k] != b[k]:
            out.append(f"config {k}: rbuild {json.dumps(a[k])} BuildKit {json.dumps(b[k])}")
    ha, hb = history_shape(mine), history_shape(ref)
    if ref["config"].get("history") is not None and ha != hb:
        out.append(f"history (instruction, empty_layer): rbuild {ha} BuildKit {hb}")
    if mine["layers"] != ref["layers"]:
        out.append(f"layer count: rbuild {mine['layers']} BuildKit {ref['layers']}")
    return out


# ---------------------------------------------------------------- expectations

def check_expect(rootfs, image, expect):
    """Check case.json's "expect" (used where BuildKit 20.10 cannot be the reference).

    files: {path: {"type": "file|dir|symlink|absent", "content", "mode", "uid",
    "gid", "target", "size", "nlink"}}; config: {field: value} with absent and
    empty alike; history: [[instruction, empty_layer], ...]; created: the
    config's "created" timestamp."""
    out = []
    for path, want in expect.get("files", {}).items():
        p = Path(str(rootfs) + path)
        kind = want.get("type", "file")
        if kind == "absent":
            if os.path.lexists(p):
                out.append(f"{path} exists; expected absent")
            continue
        if not os.path.lexists(p):
            out.append(f"{path} missing; expected a {kind}")
            continue
        st = os.lstat(p)
        have = ("symlink" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode)
                else "file" if stat.S_ISREG(st.st_mode) else "other")
        if have != kind:
            out.append(f"{path} is a {have}; expected a {kind}")
            continue
        if "mode" in want and stat.S_IMODE(st.st_mode) != int(want["mode"], 8):
            out.append(f"{path} mode {oct(stat.S_IMODE(st.st_mode))}; expected {want['mode']}")
        for key, val in (("uid", st.st_uid), ("gid", st.st_gid), ("nlink", st.st_nlink),
                         ("size", st.st_size)):
            if key in want and val != want[key]:
                out.append(f"{path} {key} {val}; expected {want[key]}")
        if "target" in want and os.readlink(p) != want["target"]:
            out.append(f"{path} -> {os.readlink(p)}; expected -> {want['target']}")
        if "content" in want:
            text = p.read_bytes().decode(errors="replace")
            if text != want["content"]:
                out.append(f"{path} content {text!r}; expected {want['content']!r}")
    have = config_fields(image)
    for k, want in expect.get("config", {}).items():
        got = have.get(k) if k in have else (image["config"].get("config") or {}).get(k)
        if (None if empty(want) else want) != got:
            out.append(f"config {k} is {json.dumps(got)}; expected {json.dumps(want)}")
    if "created" in expect and image["config"].get("created") != expect["created"]:
        out.append(f"config created is {image['config'].get('created')!r}; "
                   f"expected {expect['created']!r}")
    if "history" in expect:
        want = [tuple(x) for x in expect["history"]]
        if history_shape(image) != want:
            out.append(f"history {history_shape(image)}; expected {want}")
    return out
