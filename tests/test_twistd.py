"""
End to end: C{twistd -n --pidfile= srst --config ...} as an operator runs it,
in a child process, then C{openssl s_client} against its credentials port.
"""

import json
import os
import re
import signal
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from tests.routerhelpers import bounded, ROOT, routerYaml, stateDirectory
from tests.toolhelpers import requireTool

TWISTD = "from twisted.scripts.twistd import run; run()"


class TwistdProcess(ProcessProtocol):
    """
    Runs twistd and fires C{ready} with the credentials port it logs.
    """

    def __init__(self):
        self.output = b""
        self.ready = Deferred()
        self.ended = Deferred()

    def outReceived(self, data):
        self.output += data
        if not self.ready.called:
            match = re.search(rb"credentials listening on 127\.0\.0\.1 port (\d+)", self.output)
            if match:
                self.ready.callback(int(match.group(1)))

    errReceived = outReceived

    def processEnded(self, reason):
        self.reason = reason
        if not self.ready.called:
            self.ready.errback(RuntimeError("twistd ended before listening:\n" + self.output.decode("utf-8", "replace")))
        self.ended.callback(reason.value.exitCode)


class StdoutTwistdProcess(TwistdProcess):
    """
    L{TwistdProcess} that also keeps stdout apart (C{stdout}).
    """

    stdout = b""

    def outReceived(self, data):
        self.stdout += data
        TwistdProcess.outReceived(self, data)

    def errReceived(self, data):
        TwistdProcess.outReceived(self, data)


def startTwistd(testCase, configPath, cwd, twistdArgs=(), srstArgs=(), process=None):
    """
    Spawn twistd in the foreground without a pidfile; it is stopped with
    SIGTERM after the test if still running.

    @param twistdArgs: more twistd options.
    @param srstArgs: more C{srst} options.
    @param process: the L{TwistdProcess} to use (a new one by default).
    """
    process = process or TwistdProcess()
    env = dict(os.environ, PYTHONPATH=ROOT)
    transport = reactor.spawnProcess(
        process, sys.executable,
        [sys.executable, "-c", TWISTD, "-n", "--pidfile=", *twistdArgs, "srst", "--config", configPath,
         *srstArgs],
        env=env, path=cwd)

    def stop():
        if not process.ended.called:
            transport.signalProcess(signal.SIGTERM)
        return process.ended

    testCase.addCleanup(stop)
    return process, stop


class TwistdTests(TestCase):
    """
    The plugin runs under twistd with a temporary state directory.
    """

    timeout = 60

    def setUp(self):
        requireTool("openssl")

    @bounded(timeout=30)
    def test_twistdCredentialsHandshake(self):
        """
        twistd creates the CA and the router certificate; openssl s_client
        completes the handshake on the credentials port and the presented
        chain verifies against ca.crt; a second start keeps the same CA and
        router certificate.
        """
        stateDir = stateDirectory(self)
        configPath = os.path.join(stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(stateDir))
        caPath = os.path.join(stateDir, "pki", "server", "srstcaserver", "ca.crt")
        certPath = os.path.join(stateDir, "pki", "trustpoints", "srstca", "cert.pem")

        process, stop = startTwistd(self, configPath, stateDir)
        port = yield process.ready
        out, err, code = yield getProcessOutputAndValue(
            "openssl",
            ["s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", caPath, "-verify_return_error",
             "-servername", "branch-router"],
            env=os.environ, reactor=reactor, stdinBytes=b"")
        self.assertEqual(code, 0, err.decode("utf-8", "replace"))
        self.assertIn(b"Verify return code: 0 (ok)", out)
        with open(caPath, "rb") as f:
            ca = f.read()
        with open(certPath, "rb") as f:
            cert = f.read()
        yield stop()
        # twistd shuts down cleanly, then re-raises SIGTERM so its exit status says why it stopped.
        self.assertIn(b"Server Shut Down.", process.output)
        self.assertNotIn(b"Traceback", process.output)

        process, stop = startTwistd(self, configPath, stateDir)
        yield process.ready
        with open(caPath, "rb") as f:
            self.assertEqual(f.read(), ca)
        with open(certPath, "rb") as f:
            self.assertEqual(f.read(), cert)
        yield stop()

    @bounded(timeout=30)
    def test_jsonLogLines(self):
        """
        C{srst --log-format json} under C{twistd -n --logfile=-} (the
        supervisord sample's command) writes every log line to stdout as one
        JSON object: twistd's own start-up lines, the router's, the shutdown;
        each has its namespace, level, time and the text a text log shows.
        """
        stateDir = stateDirectory(self)
        configPath = os.path.join(stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(stateDir))
        process, stop = startTwistd(self, configPath, stateDir, twistdArgs=["--logfile=-"],
                                    srstArgs=["--log-format", "json"], process=StdoutTwistdProcess())
        port = yield process.ready
        yield stop()
        lines = process.stdout.decode("utf-8").splitlines()
        events = [json.loads(line) for line in lines]
        self.assertGreater(len(events), 5)
        texts = [event["text"] for event in events]
        self.assertIn(f"credentials listening on 127.0.0.1 port {port}", texts)
        self.assertIn("Server Shut Down.", texts)
        listening = events[texts.index(f"credentials listening on 127.0.0.1 port {port}")]
        self.assertEqual(listening["log_level"]["name"], "info")
        self.assertIsInstance(listening["log_time"], float)
        self.assertTrue(all(event["log_namespace"] for event in events), events)

    @bounded(timeout=30)
    def test_logFormatChecked(self):
        """
        An unknown C{--log-format} is a usage error naming the option, and
        so is JSON to a twistd log file (JSON lines are for stdout).
        """
        stateDir = stateDirectory(self)
        configPath = os.path.join(stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(stateDir))
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, ["-c", TWISTD, "-n", "--pidfile=", "srst", "--config", configPath, "--log-format", "xml"],
            env=dict(os.environ, PYTHONPATH=ROOT), path=stateDir, reactor=reactor)
        self.assertNotEqual(code, 0)
        self.assertIn("--log-format: 'xml' is not allowed; expected text or json", (out + err).decode("utf-8"))
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, ["-c", TWISTD, "-n", "--pidfile=", "--logfile=srst.log", "srst", "--config", configPath,
                             "--log-format", "json"],
            env=dict(os.environ, PYTHONPATH=ROOT), path=stateDir, reactor=reactor)
        self.assertNotEqual(code, 0)
        self.assertIn("--log-format json writes to stdout: run twistd in the foreground (-n) with --logfile=- "
                      "or no --logfile", (out + err).decode("utf-8"))

    @bounded(timeout=30)
    def test_badConfigExitsWithLines(self):
        """
        twistd with an invalid configuration prints the YAML path of each
        problem and exits non-zero without a traceback, writing nothing.
        """
        stateDir = stateDirectory(self)
        configPath = os.path.join(stateDir, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(os.path.join(stateDir, "state")).replace("grant: auto", "grant: sometimes"))
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, ["-c", TWISTD, "-n", "--pidfile=", "srst", "--config", configPath],
            env=dict(os.environ, PYTHONPATH=ROOT), path=stateDir, reactor=reactor)
        self.assertNotEqual(code, 0)
        text = (out + err).decode("utf-8", "replace")
        self.assertIn("pki.server.grant: 'sometimes' is not allowed", text)
        self.assertNotIn("Traceback", text)
        self.assertFalse(os.path.exists(os.path.join(stateDir, "state")))


def runTwistd(configPath, cwd, memoryLimit=None):
    """
    Run twistd in the foreground on C{configPath} until it exits.

    @param memoryLimit: if given, the child's address-space limit in bytes
        (C{RLIMIT_AS}), set before twistd starts.
    @return: a L{Deferred} firing with C{(output text, exit code)}.
    """
    prelude = ""
    if memoryLimit is not None:
        prelude = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memoryLimit}, {memoryLimit})); "
    d = getProcessOutputAndValue(
        sys.executable, ["-c", prelude + TWISTD, "-n", "--pidfile=", "srst", "--config", configPath],
        env=dict(os.environ, PYTHONPATH=ROOT), path=cwd, reactor=reactor)
    return d.addCallback(lambda result: ((result[0] + result[1]).decode("utf-8", "replace"), result[2]))


class StartupErrorTests(TestCase):
    """
    What stops twistd before the router runs gives one line naming the file
    and the YAML path, exit status 1 and no traceback.
    """

    timeout = 30

    def writeConfig(self, text):
        """
        A fresh directory holding router.yaml with C{text}.

        @return: C{(directory, path of router.yaml)}.
        """
        directory = stateDirectory(self)
        path = os.path.join(directory, "router.yaml")
        with open(path, "w") as f:
            f.write(text)
        return directory, path

    @bounded(timeout=30)
    def test_aliasBomb(self):
        """
        A "billion laughs" alias bomb in router.yaml is refused under a
        512 MB memory limit, at once, with one line naming the file.
        """
        from tests.test_configreader import aliasBomb

        directory, path = self.writeConfig(aliasBomb())
        text, code = yield runTwistd(path, directory, memoryLimit=512 * 1024 * 1024)
        self.assertEqual(code, 1, text)
        self.assertIn(f"{path}: <yaml>: aliases expand to more than 1000000 values (an alias bomb?)"
                      " at line 8 column 5\n", text)
        self.assertNotIn("Traceback", text)
        self.assertNotIn("MemoryError", text)

    def assertOneLine(self, text, code, line):
        """
        twistd exited with status 1, printed C{line} on a line of its own and
        no traceback.
        """
        self.assertEqual(code, 1, text)
        self.assertIn("\n" + line + "\n", text)
        self.assertNotIn("Traceback", text)

    @bounded(timeout=30)
    def test_tooDeep(self):
        """
        Nesting deeper than Python's recursion limit is one line, not a
        RecursionError.
        """
        directory, path = self.writeConfig("hostname: x\ndeep: " + "[" * 3000 + "]" * 3000 + "\n")
        text, code = yield runTwistd(path, directory)
        self.assertOneLine(text, code, f"-c -n: {path}: <yaml>: nested deeper than 64 levels at line 2 column 70")

    @bounded(timeout=30)
    def test_stateDirIsAFile(self):
        """
        A state-dir that is a file (or lies below one) is one line naming it.
        """
        directory = stateDirectory(self)
        stateFile = os.path.join(directory, "var")
        with open(stateFile, "w"):
            pass
        path = os.path.join(directory, "router.yaml")
        for stateDir, reason in [(stateFile, "exists and is not a directory"),
                                 (os.path.join(stateFile, "srst"), f"cannot be created: {stateFile} is not a directory")]:
            with open(path, "w") as f:
                f.write(routerYaml(stateDir).replace(os.path.join(stateDir, "srst.sock"),
                                                     os.path.join(directory, "srst.sock")))
            text, code = yield runTwistd(path, directory)
            self.assertOneLine(text, code, f"-c -n: {path}: state-dir: {stateDir} {reason}")

    @bounded(timeout=30)
    def test_adminSocketTaken(self):
        """
        An admin socket path taken by a live server, a regular file or a
        directory is one line each, and none of them is removed.
        """
        import socket

        directory = stateDirectory(self)
        stateDir = os.path.join(directory, "state")
        socketPath = os.path.join(stateDir, "srst.sock")
        configPath = os.path.join(directory, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(stateDir))
        os.mkdir(stateDir)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(server.close)
        server.bind(socketPath)
        server.listen(1)
        text, code = yield runTwistd(configPath, directory)
        self.assertOneLine(text, code, f"-c -n: {configPath}: admin.socket: {socketPath}"
                                       " another server is listening on it")
        server.close()
        os.unlink(socketPath)
        with open(socketPath, "w") as f:
            f.write("precious")
        text, code = yield runTwistd(configPath, directory)
        self.assertOneLine(text, code, f"-c -n: {configPath}: admin.socket: {socketPath} exists and is not a socket")
        os.unlink(socketPath)
        os.mkdir(socketPath)
        text, code = yield runTwistd(configPath, directory)
        self.assertOneLine(text, code, f"-c -n: {configPath}: admin.socket: {socketPath}"
                                       " exists and is a directory, not a socket")
        self.assertEqual(sorted(os.listdir(stateDir)), ["srst.sock"])

    @bounded(timeout=30)
    def test_portInUse(self):
        """
        A listening port another program holds stops start-up with one line
        naming the YAML key, before anything is written.
        """
        import socket

        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        directory = stateDirectory(self)
        stateDir = os.path.join(directory, "state")
        configPath = os.path.join(directory, "router.yaml")
        with open(configPath, "w") as f:
            f.write(routerYaml(stateDir, extra=f"""
                call-manager-fallback:
                  ip-source-address: 127.0.0.1
                  port: {port}
                """))
        text, code = yield runTwistd(configPath, directory)
        self.assertOneLine(text, code, f"-c -n: {configPath}: call-manager-fallback.port:"
                                       f" cannot listen on 127.0.0.1 port {port}: Address already in use")
        self.assertFalse(os.path.exists(stateDir))
