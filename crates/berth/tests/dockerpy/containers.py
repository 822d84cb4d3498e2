"""docker-py (the Docker SDK for Python) against a berth daemon: the
container lifecycle through the high-level API.

Run by tests/sdk.rs with DOCKER_HOST pointing at a private daemon and the
busybox fixture's path in the environment. Any failed assertion exits
non-zero.
"""
import io
import os
import tarfile
import time

import docker

client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
client.images.load(open(os.environ["BUSYBOX_OCI"], "rb").read())
image = "busybox:1.38.0-glibc"

# run in the foreground: the output comes back; a failure raises with the code.
assert client.containers.run(image, ["echo", "hello"], remove=True) == b"hello\n"
try:
    client.containers.run(image, ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    raise SystemExit("a failing command did not raise")
except docker.errors.ContainerError as e:
    assert e.exit_status == 3, e.exit_status

# detached, with labels, env and a name
c = client.containers.run(
    image,
    ["sh", "-c", "echo started; echo $GREETING; sleep 100"],
    detach=True,
    name="pyrun",
    labels={"app": "sdk"},
    environment={"GREETING": "hi"},
)
c.reload()
assert c.status == "running", c.status
assert c.name == "pyrun"
assert c.labels == {"app": "sdk"}
assert [x.name for x in client.containers.list(filters={"label": "app=sdk"})] == ["pyrun"]

for _ in range(100):
    if b"hi" in c.logs():
        break
    time.sleep(0.05)
assert c.logs() == b"started\nhi\n", c.logs()

# exec_run: output and exit code, as the given user and in a directory
r = c.exec_run(["sh", "-c", "id -u; pwd; exit 5"], user="nobody", workdir="/tmp")
assert r.exit_code == 5 and r.output == b"65534\n/tmp\n", r

# files in and out, through tar archives
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    data = b"from the sdk\n"
    info = tarfile.TarInfo("note.txt")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
assert c.put_archive("/tmp", buf.getvalue())
stream, stat = c.get_archive("/tmp/note.txt")
assert stat["name"] == "note.txt" and stat["size"] == 13, stat
with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
    assert t.extractfile("note.txt").read() == b"from the sdk\n"
assert {"Kind": 1, "Path": "/tmp/note.txt"} in c.diff(), c.diff()

# top, stats, pause/unpause, rename
assert any("sleep 100" in " ".join(p) for p in c.top()["Processes"]), c.top()
s = c.stats(stream=False)
assert s["memory_stats"]["usage"] > 0 and s["pids_stats"]["current"] >= 1, s
c.pause()
c.reload()
assert c.status == "paused", c.status
c.unpause()
c.rename("pyrun2")
c.reload()
assert c.name == "pyrun2"

# commit the container, run the new image
img = c.commit(repository="sdk/committed", tag="1", message="from docker-py")
assert client.containers.run("sdk/committed:1", ["cat", "/tmp/note.txt"], remove=True) == b"from the sdk\n"
assert img.history()[0]["Comment"] == "from docker-py"

# stop (SIGTERM ignored by a PID-1 sleep: killed after the timeout), wait, remove
c.stop(timeout=1)
assert c.wait()["StatusCode"] == 137
c.remove()
try:
    client.containers.get("pyrun2")
    raise SystemExit("a removed container is still there")
except docker.errors.NotFound:
    pass

# kill with a signal the process handles
k = client.containers.run(
    image, ["sh", "-c", "trap 'exit 9' USR1; echo ready; while :; do sleep 0.1; done"], detach=True
)
while b"ready" not in k.logs():
    time.sleep(0.05)
k.kill(signal="SIGUSR1")
assert k.wait()["StatusCode"] == 9
k.remove()
client.images.remove("sdk/committed:1")
print("all container checks passed")
