"""docker-py against a berth daemon: hijacked streams (exec, attach) read by
a client that is slow to read the answer's head.

docker-py reads a hijacked stream from the raw socket, past the buffer its
HTTP reader filled with the head: bytes sent together with the head would
be lost to it. Run by tests/sdk.rs; any failed assertion exits non-zero.
"""
import http.client
import os
import threading
import time

import docker

client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
client.images.load(open(os.environ["BUSYBOX_OCI"], "rb").read())
c = client.containers.run("busybox:1.38.0-glibc", ["sh", "-c", "echo before; sleep 100"], detach=True)
for _ in range(100):
    if c.logs() == b"before\n":
        break
    time.sleep(0.05)

# From here on every answer's head is read 300 ms after it was asked for:
# long after an exec's output or an attach's history is ready.
read_head = http.client.HTTPResponse.begin


def slow_read_head(self):
    time.sleep(0.3)
    read_head(self)


http.client.HTTPResponse.begin = slow_read_head

r = c.exec_run(["sh", "-c", "echo quick; echo err >&2; exit 4"])
assert r.exit_code == 4 and r.output == b"quick\nerr\n", r
r = c.exec_run(["echo", "split"], demux=True)
assert r.output == (b"split\n", None), r

# attach with logs and without stream: the history, then the end (and
# without either, nothing), as Docker.
assert c.attach(logs=True, stream=False) == b"before\n"
assert c.attach(stdout=False, stderr=True, logs=True, stream=False) == b""
assert c.attach(logs=False, stream=False) == b""

# attach to a created container, then start it while the client is still
# to read the attach answer: it gets all the output.
d = client.containers.create("busybox:1.38.0-glibc", ["echo", "from the start"])
got = []
t = threading.Thread(target=lambda: got.append(b"".join(d.attach(stdout=True, stderr=True, stream=True))))
t.start()
time.sleep(0.1)
d.start()
t.join(30)
assert got == [b"from the start\n"], got
d.remove()

c.remove(force=True)
print("all stream checks passed")
