#!/usr/bin/env python3
"""Writes a docker-save tarball of a multi-layer image for benchmarks.

usage: make-image.py OUT.tar LAYERS MB_PER_LAYER
Each layer holds files of mixed content (half random, half text-like) so that
compression and extraction both do realistic work.
"""
import hashlib, io, json, os, sys, tarfile

out, layers, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = os.urandom

def layer_tar(n):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        d = tarfile.TarInfo(f"layer{n}"); d.type = tarfile.DIRTYPE; d.mode = 0o755; d.mtime = 1700000000
        t.addfile(d)
        size, i = 0, 0
        while size < mb << 20:
            chunk = rng(64 << 10) if i % 2 else (b"berth benchmark line %d\n" % i) * 2700
            info = tarfile.TarInfo(f"layer{n}/f{i:05d}"); info.size = len(chunk); info.mode = 0o644; info.mtime = 1700000000
            t.addfile(info, io.BytesIO(chunk))
            size += len(chunk); i += 1
    return buf.getvalue()

tars = [layer_tar(n) for n in range(layers)]
diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
                     "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
                     "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"layer {i}"} for i in range(layers)]},
                    separators=(",", ":")).encode()
cfg_hex = hashlib.sha256(config).hexdigest()
with tarfile.open(out, "w") as t:
    def add(name, data):
        info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644; info.mtime = 1700000000
        t.addfile(info, io.BytesIO(data))
    paths = []
    for d, data in zip(diff_ids, tars):
        p = d[7:] + "/layer.tar"; add(p, data); paths.append(p)
    add(cfg_hex + ".json", config)
    add("manifest.json", json.dumps([{"Config": cfg_hex + ".json", "RepoTags": ["bench:big"], "Layers": paths}]).encode())
