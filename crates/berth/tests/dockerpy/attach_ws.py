"""The websocket attach endpoint with websocket-client (the library
docker-py uses for `attach_socket(ws=True)`); containers made by docker-py.

docker-py itself opens websockets only over TCP, so the client is handed a
connection to the daemon's unix socket. Run by tests/sdk.rs.
"""
import os
import socket
import sys

import docker
import websocket

host = os.environ["DOCKER_HOST"]
client = docker.DockerClient(base_url=host, version="auto")
client.images.load(open(os.environ["BUSYBOX_OCI"], "rb").read())


def connect(container_id, query, version="1.50"):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(host[len("unix://"):])
    url = f"ws://localhost/v{version}/containers/{container_id}/attach/ws?{query}"
    return websocket.create_connection(url, socket=sock, timeout=20)


def recv_until(ws, text):
    got = b""
    while text.encode() not in got:
        frame = ws.recv_frame()
        assert frame.opcode == websocket.ABNF.OPCODE_BINARY, frame.opcode
        got += frame.data
    return got.decode()


# Attached before start: stdout, stderr and stdin all travel the websocket,
# without the 8-byte stream headers of the hijacked endpoint.
c = client.containers.create(
    "busybox:1.38.0-glibc",
    ["sh", "-c", "echo ready; read line; echo got:$line; echo oops >&2"],
    stdin_open=True,
)
ws = connect(c.id, "stream=1&stdin=1&stdout=1&stderr=1")
c.start()
assert recv_until(ws, "ready\n") == "ready\n"
ws.send_binary(b"hello\n")
rest = recv_until(ws, "oops\n")
assert rest == "got:hello\noops\n", rest
# The container exited: the daemon closes the websocket.
frame = ws.recv_frame()
assert frame.opcode == websocket.ABNF.OPCODE_CLOSE, frame.opcode
assert c.wait()["StatusCode"] == 0

# logs=1 without stream: the history, then the close.
ws = connect(c.id, "logs=1&stdout=1")
assert recv_until(ws, "got:hello\n") == "ready\ngot:hello\n"
assert ws.recv_frame().opcode == websocket.ABNF.OPCODE_CLOSE

# Only what was asked for (since API 1.42): stderr alone.
c2 = client.containers.create("busybox:1.38.0-glibc", ["sh", "-c", "sleep 0.3; echo out; echo err >&2"])
ws = connect(c2.id, "stream=1&stderr=1")
c2.start()
assert recv_until(ws, "err\n") == "err\n"
assert ws.recv_frame().opcode == websocket.ABNF.OPCODE_CLOSE

# A plain GET is refused with Docker's error shape.
try:
    client.api._result(client.api._get(client.api._url("/containers/{0}/attach/ws", c.id)))
    sys.exit("a request without an upgrade was accepted")
except docker.errors.APIError as e:
    assert e.status_code == 400, e

# Another protocol version: 426, naming the one spoken.
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(host[len("unix://"):])
sock.sendall(
    f"GET /v1.50/containers/{c.id}/attach/ws?stream=1 HTTP/1.1\r\nHost: localhost\r\n"
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 8\r\n\r\n".encode()
)
answer = sock.recv(4096).decode()
assert answer.startswith("HTTP/1.1 426"), answer
assert "sec-websocket-version: 13" in answer.lower(), answer
sock.close()

c.remove()
c2.remove()
print("all websocket checks passed")
