"""Network faults for the broker link: a TCP proxy between the daemons and
Redis that can go silent (a half-open link: sockets stay open, no byte
moves, as when a route or a Redis host vanishes without a reset), heal, or
play a proxy whose backend is down (accept, then close at once)."""
import os
import select
import signal
import socket
import threading
import time
import unittest

import harness


class Proxy:
    def __init__(self, backend_port, backend_host="127.0.0.1"):
        self.backend = (backend_host, backend_port)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.mode = "pass"          # pass | blackhole | refuse
        self.accepted = 0           # connections accepted, in every mode
        self.lock = threading.Lock()
        self.socks = []
        self.running = True
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def url(self, user=None, password=None, db=0):
        auth = ""
        if password is not None:
            auth = "%s:%s@" % (user or "", password)
        return "redis://%s127.0.0.1:%d/%d" % (auth, self.port, db)

    def blackhole(self):
        """Nothing moves any more, in either direction, on old or new
        connections; nothing is closed either."""
        self.mode = "blackhole"

    def heal(self):
        self.mode = "pass"

    def refuse(self):
        """A proxy whose backend is down: accepts, then closes at once."""
        self.mode = "refuse"

    def reset(self):
        """Closes every connection through the proxy (the clients see a reset)."""
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            except OSError:
                pass

    def _accept_loop(self):
        while self.running:
            r, _, _ = select.select([self.lsock], [], [], 0.2)
            if not r:
                continue
            try:
                client, _ = self.lsock.accept()
            except OSError:
                continue
            self.accepted += 1
            if self.mode == "refuse":
                client.close()
                continue
            try:
                backend = socket.create_connection(self.backend, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.socks += [client, backend]
            threading.Thread(target=self._pump, args=(client, backend), daemon=True).start()
            threading.Thread(target=self._pump, args=(backend, client), daemon=True).start()

    def _pump(self, src, dst):
        while self.running:
            if self.mode == "blackhole":
                time.sleep(0.05)
                continue
            try:
                r, _, _ = select.select([src], [], [], 0.1)
                if not r:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.running = False
        with self.lock:
            for s in self.socks + [self.lsock]:
                try:
                    s.close()
                except OSError:
                    pass


class ProxiedCase(unittest.TestCase):
    """Each test gets a fresh one-host fleet (h1, role web) that reaches
    Redis through a Proxy: self.fleet, self.pair, self.proxy."""
    FLEET_OPTIONS = {}

    def setUp(self):
        harness.require_root()
        self.proxy = None

        def prepare(redis_):
            self.proxy = Proxy(redis_.port)
            return {"h1": self.proxy.url()}
        self.fleet = harness.Fleet({"h1": ["web"]}, prepare=prepare, **self.FLEET_OPTIONS)
        self.fleet.__enter__()
        self.pair = self.fleet.pairs["h1"]

    def tearDown(self):
        self.fleet.__exit__(None, None, None)
        if self.proxy:
            self.proxy.close()


def wait_exit(proc, timeout):
    """Seconds until proc (a Popen) exited, or None if it is still running."""
    t0 = time.monotonic()
    try:
        proc.wait(timeout)
    except Exception:
        return None
    return time.monotonic() - t0


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def wait_pid_gone(pid, timeout):
    """Seconds until pid was gone (or a zombie), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not pid_alive(pid):
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def sigterm(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
