"""What the cluster tests share (issue 16): a real nats-server started through `corun cluster`
on a free loopback port with its own store folder, `corun worker` and `corun batch --cluster`
processes, every one stopped by its PID, and a minimal NATS protocol client (plain PUB/SUB over
a socket) for what the corun commands must never send themselves: hostile messages.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time

WAIT_LIMIT = 120  # seconds, for every wait


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, what, limit=WAIT_LIMIT):
    deadline = time.time() + limit
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"gave up after {limit} s waiting for {what}")


class Processes:
    """Every process a test starts, stopped by PID at the end (SIGTERM, then SIGKILL)."""

    def __init__(self):
        self.started = []

    def start(self, args, log_path, env=None, prefix=()):
        log = open(log_path, "wb")
        process = subprocess.Popen([*prefix, *args], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env)
        self.started.append(process)
        return process

    def stop_all(self):
        for process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


class Cluster:
    """`corun cluster` on a free loopback port (or a given address), its token in a file."""

    def __init__(self, corun, workdir, processes, token="test-token", ack_wait=3,
                 listen=None, prefix=()):
        self.corun = corun
        self.workdir = workdir
        self.processes = processes
        self.token = token
        self.token_file = os.path.join(workdir, "token")
        with open(self.token_file, "w") as out:
            out.write(token + "\n")
        self.log = os.path.join(workdir, "cluster.log")
        # A port free_port() found free can be taken by another test before nats-server binds
        # it: then another port, three times at most (a port given by the caller is kept).
        for attempt in range(3):
            self.listen = listen or f"127.0.0.1:{free_port()}"
            self.url = "nats://" + self.listen
            self.process = processes.start(
                [corun, "cluster", "--listen", self.listen, "--store-dir",
                 os.path.join(workdir, "jetstream"), "--token-file", self.token_file,
                 "--ack-wait", str(ack_wait), "--json"], self.log, prefix=prefix)
            try:
                self.started = wait_for(self._started, "corun cluster to start")
                return
            except RuntimeError as exited:
                if listen or attempt == 2 or "address already in use" not in str(exited):
                    raise

    def _started(self):
        if self.process.poll() is not None:
            raise RuntimeError("corun cluster exited: " + open(self.log).read()[-3000:])
        with open(self.log) as log:
            for line in log:
                if line.startswith("{"):
                    return json.loads(line)
        return None

    def auth(self):
        return ["--cluster", self.url, "--token-file", self.token_file]

    def worker(self, name, log_dir, extra=(), prefix=()):
        return self.processes.start(
            [self.corun, "worker", *self.auth(), "--name", name, *extra],
            os.path.join(log_dir, f"worker-{name}.log"), prefix=prefix)

    def status(self):
        result = subprocess.run([self.corun, "cluster", "status", *self.auth(), "--json"],
                                capture_output=True, text=True, timeout=60)
        return json.loads(result.stdout) if result.returncode == 0 else None


def rows(db):
    """(path, task) -> row dict, joined through files so each path gets its content's rows."""
    connection = sqlite3.connect(db, timeout=30)
    connection.row_factory = sqlite3.Row
    found = {}
    for row in connection.execute(
            "SELECT f.path AS path, r.task AS task, r.status AS status, r.error_kind AS error_kind,"
            " r.result AS result, r.node AS node, r.content_hash AS content_hash, r.model AS model,"
            " r.model_version AS model_version "
            "FROM files f JOIN results r ON r.content_hash = f.content_hash"):
        found[(row["path"], row["task"])] = dict(row)
    for row in connection.execute(
            "SELECT path, task, status, error_kind, result, node, content_hash, model,"
            " model_version FROM results WHERE content_hash LIKE 'unread:%'"):
        found[(row["path"], row["task"])] = dict(row)
    connection.close()
    return found


def result_count(db):
    try:
        connection = sqlite3.connect(db, timeout=30)
        count = connection.execute("SELECT count(*) FROM results").fetchone()[0]
        connection.close()
        return count
    except sqlite3.Error:
        return 0


def write_ppm(path, index, side=32):
    """A small PNM image whose bytes are unique to `index` (a distinct input each)."""
    pixels = bytearray(side * side * 3)
    for i in range(len(pixels)):
        pixels[i] = (index * 7 + i * 13 + (index >> 8) * 31) & 0xFF
    pixels[0:4] = index.to_bytes(4, "little")
    with open(path, "wb") as out:
        out.write(b"P6\n%d %d\n255\n" % (side, side) + bytes(pixels))


class RawNats:
    """The NATS text protocol over a socket: CONNECT with a token, PUB, SUB, PING/PONG."""

    def __init__(self, host, port, token):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buffer = b""
        self._line()  # INFO
        connect = {"verbose": False, "pedantic": False, "auth_token": token, "headers": False}
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
        self.flush()

    def _line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the NATS server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exact(self, count):
        while len(self.buffer) < count + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the NATS server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count + 2:]
        return data

    def flush(self):
        self.sock.sendall(b"PING\r\n")
        while True:
            line = self._line()
            if line == b"PONG":
                return
            if line.startswith(b"-ERR"):
                raise ConnectionError(line.decode())

    def publish(self, subject, payload):
        self.sock.sendall(b"PUB %s %d\r\n" % (subject.encode(), len(payload)) + payload + b"\r\n")

    def subscribe(self, subject, sid=1):
        self.sock.sendall(b"SUB %s %d\r\n" % (subject.encode(), sid))
        self.flush()

    def next_message(self, timeout):
        """(subject, payload) of the next MSG, answering PINGs; None on a timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                line = self._line()
                if line == b"PING":
                    self.sock.sendall(b"PONG\r\n")
                    continue
                if line.startswith(b"MSG "):
                    parts = line.split()
                    return parts[1].decode(), self._exact(int(parts[-1]))
        except socket.timeout:
            return None
        finally:
            self.sock.settimeout(10)

    def close(self):
        self.sock.close()
