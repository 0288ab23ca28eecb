"""Runs a real TensorBoard over a log directory, for the tests: what a user
sees after `tensorboard --logdir LOG_DIR`, through its HTTP routes.

    with tensorboard_server(log_dir) as server:
        server.wait_for_plugins(("scalars", "images", "audio"))
        tags = server.json("/data/plugin/scalars/tags")

Loopback only; every wait is bounded; the server (and the data server
TensorBoard may start) is stopped when the block ends.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HOST = "127.0.0.1"
# The plugins a VQ-VAE run shows (a test of a speech recipe adds "audio").
VQVAE_PLUGINS = ("scalars", "images", "histograms", "projector")
POLL_SECONDS = 0.5
STARTUP_TIMEOUT_S = 180
DATA_TIMEOUT_S = 120


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class TensorBoardServer:
    """A running TensorBoard at `url` (see `tensorboard_server`)."""

    def __init__(self, url, process, output_path):
        self.url = url
        self.process = process
        self.output_path = output_path
        # Loopback: never through an HTTP proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def output(self):
        """What TensorBoard printed so far (for failure messages)."""
        with open(self.output_path, errors="replace") as f:
            return f.read()[-4000:]

    def get(self, path, **query):
        """`(status, body bytes)` of `GET path?query`."""
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        try:
            with self._opener.open(url, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, path, **query):
        status, body = self.get(path, **query)
        assert status == 200, (path, query, status, body[:500])
        return json.loads(body)

    def poll(self, fetch, until, timeout=DATA_TIMEOUT_S):
        """Calls `fetch()` until `until(result)` holds or `timeout` seconds
        pass, and returns the last result either way (the caller asserts on
        it, so a failure shows what TensorBoard served)."""
        deadline = time.monotonic() + timeout
        while True:
            result = fetch()
            if until(result) or time.monotonic() > deadline:
                return result
            assert self.process.poll() is None, "TensorBoard exited:\n" + self.output()
            time.sleep(POLL_SECONDS)

    def plugins_listing(self):
        return self.json("/data/plugins_listing")

    def wait_for_plugins(self, plugins=VQVAE_PLUGINS, timeout=DATA_TIMEOUT_S):
        """Waits until every plugin of `plugins` is enabled (some decide in
        the background, e.g. the projector) and returns the listing."""

        def enabled(listing):
            return all(listing.get(p, {}).get("enabled") for p in plugins)

        listing = self.poll(self.plugins_listing, enabled, timeout)
        missing = [p for p in plugins if not listing.get(p, {}).get("enabled")]
        assert not missing, (
            f"TensorBoard plugins not enabled: {missing}; listing: "
            f"{ {k: v.get('enabled') for k, v in listing.items()} }"
        )
        return listing

    def tags(self, plugin, expected, timeout=DATA_TIMEOUT_S):
        """`/data/plugin/<plugin>/tags` once it lists, for each run of
        `expected` (`{run: tags}`), at least those tags (or the timeout)."""

        def complete(tags):
            return all(set(t) <= set(tags.get(run, {})) for run, t in expected.items())

        return self.poll(lambda: self.json(f"/data/plugin/{plugin}/tags"), complete, timeout)


@contextlib.contextmanager
def tensorboard_server(log_dir, extra_args=(), startup_timeout=STARTUP_TIMEOUT_S):
    """Starts `tensorboard --logdir log_dir` on a free loopback port, waits
    until it answers, yields a `TensorBoardServer`, and stops it."""
    port = _free_port()
    output = tempfile.NamedTemporaryFile(
        "w+", prefix="tensorboard-", suffix=".log", delete=False)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(log_dir),
         "--host", HOST, "--port", str(port), *extra_args],
        stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, start_new_session=True,  # its own group: stop its children too
    )
    server = TensorBoardServer(f"http://{HOST}:{port}", process, output.name)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            assert process.poll() is None, "TensorBoard exited:\n" + server.output()
            try:
                if server.get("/data/logdir")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            assert time.monotonic() < deadline, (
                f"TensorBoard did not answer within {startup_timeout} s:\n"
                + server.output())
            time.sleep(POLL_SECONDS)
        yield server
    finally:
        _stop(process)
        output.close()
        os.unlink(output.name)


def _stop(process):
    """Stops TensorBoard's process group (it and the data server it may
    have started): SIGTERM, then SIGKILL for whatever is left."""
    group = process.pid  # start_new_session: the group id is its pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    process.wait(timeout=20)
