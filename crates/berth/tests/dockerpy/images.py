"""docker-py (the Docker SDK for Python) against a berth daemon: images.

Run by tests/sdk.rs with DOCKER_HOST pointing at a private daemon and the
fixtures' paths in the environment. Any failed assertion exits non-zero.
"""
import io
import os
import tarfile

import docker

client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
assert client.ping()
assert client.version()["ApiVersion"] == "1.50"

with open(os.environ["BUSYBOX_OCI"], "rb") as f:
    loaded = client.images.load(f.read())
assert [t for i in loaded for t in i.tags] == ["busybox:1.38.0-glibc"], loaded
busybox = client.images.get("busybox:1.38.0-glibc")
assert busybox.id == "sha256:c6348fa86ba0fb2108c9334f5fe913ddc6d853313e655891f133a0127c30099f", busybox.id
assert busybox.attrs["Config"]["Cmd"] == ["sh"]

assert busybox.tag("sdk/box", "v1")
assert "sdk/box:v1" in client.images.get("sdk/box:v1").tags
assert [i.id for i in client.images.list(filters={"reference": "sdk/*"})] == [busybox.id]

# import through the low-level API, from bytes, with changes
with open(os.environ["ALPINE_ROOTFS"], "rb") as f:
    out = client.api.import_image_from_data(f.read(), repository="sdk/alpine", tag="1", changes=["ENV A=b"])
alpine = client.images.get("sdk/alpine:1")
assert alpine.id in str(out), out
assert alpine.attrs["Config"]["Env"] == ["A=b"]
assert alpine.history()[0]["Id"] == alpine.id

# save → remove → load keeps the ID
data = b"".join(busybox.save(named=True))
tar = tarfile.open(fileobj=io.BytesIO(data))
assert "manifest.json" in tar.getnames()
client.images.remove("sdk/box:v1")
client.images.remove("busybox:1.38.0-glibc")
try:
    client.images.get("busybox:1.38.0-glibc")
    raise AssertionError("image should be gone")
except docker.errors.ImageNotFound:
    pass
client.images.load(data)
assert client.images.get("busybox:1.38.0-glibc").id == busybox.id

try:
    client.images.get("Bad@@ref")
    raise AssertionError("bad reference accepted")
except docker.errors.APIError as e:
    assert e.status_code == 400, e

pruned = client.images.prune(filters={"dangling": False})
assert pruned["ImagesDeleted"], pruned
assert client.images.list() == []
df = client.df()
assert df["Images"] == [], df
print("docker-py: all image checks passed")
