"""Spark specifics of the distributed event loops: Java and pyspark, the context, and the progress display.

- ``spark_context(scheduler, ncores, address)``: a ``SparkContext`` for ``spark-local``
  (``local[N]``: N Python worker processes on this machine) or ``spark-remote`` (the
  standalone master at ``spark://HOST:PORT``, or another cluster manager's address such as
  ``yarn``), or the one already running in this process, after the checks that turn the usual
  failures into one line: pyspark missing, no Java 17 or newer, a master where nothing
  listens (Spark would retry for minutes). The workers run this process' interpreter
  (``PYSPARK_PYTHON``) unless the environment names another one for a remote cluster.
- ``quiet_progress(total, draw)``: one line on stderr for all graphs (samples), as on Dask;
  Spark's own console progress bar is off.

What runs on the workers is workers.py's code, sent by value: they need ROOT and pyspark, not rdf_ttbar.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from .dask_cluster import CONNECT_TIMEOUT_S, DaskProgress

log = logging.getLogger(__name__)

JAVA_MIN = 17  # pyspark 4 needs Java 17 or newer
JAVA_FIX = "install Java 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or point JAVA_HOME at one"


def java_version() -> tuple[str, int]:
    """The ``java`` Spark will start (JAVA_HOME's, else PATH's) and its major version; a UserError if none."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={home} has no bin/java" if home else "no 'java' on PATH"
        raise UserError(f"Spark needs Java ({where}): {JAVA_FIX}")
    try:
        text = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UserError(f"Spark needs Java, and {java} does not run ({err}): {JAVA_FIX}") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    major = int(found.group(1)) if found else 0
    if major == 1 and found and found.group(2):  # "1.8.0": Java 8
        major = int(found.group(2))
    return java, major


def check_java() -> None:
    java, major = java_version()
    if major < JAVA_MIN:
        raise UserError(
            f"Spark needs Java {JAVA_MIN} or newer, {java} is Java {major or 'of unknown version'}: {JAVA_FIX}"
        )


def check_master(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S) -> str:
    """The ``spark://HOST:PORT`` address, after a connection to it succeeded within ``timeout_s``."""
    fix = "start it with Spark's sbin/start-master.sh or fix --scheduler-address"
    if not address:
        raise UserError("--scheduler spark-remote needs --scheduler-address spark://HOST:PORT")
    if not address.startswith("spark://"):  # yarn, k8s://...: Spark's cluster managers, for Spark to check
        return address
    parts = urllib.parse.urlsplit(address)
    try:
        host, port = parts.hostname, parts.port or 7077
    except ValueError:
        host, port = None, 0
    if parts.scheme != "spark" or not host:
        raise UserError(f"--scheduler-address {address} is not a Spark master's address: use spark://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        raise UserError(f"cannot reach the Spark master at {address} ({err.strerror or err}); {fix}") from None
    return address


def spark_context(scheduler: str, ncores: int, address: str | None) -> tuple:
    """``(context, owned)``: a started SparkContext for ``spark-local`` (``ncores`` processes; 0: all cores) or
    ``spark-remote``, and whether this run started it (and stops it at its end). A context already running in
    this process (a SWAN session's ``sc``) is used as it is, and left running."""
    try:
        import pyspark
    except ImportError:
        raise UserError(f"--scheduler {scheduler} needs pyspark, which is not installed: pip install pyspark") from None
    running = pyspark.SparkContext._active_spark_context
    if running is not None:
        log.info("using the SparkContext of this process (master %s) as it is", running.master)
        return running, False
    master = check_master(address) if scheduler == "spark-remote" else f"local[{ncores or os.cpu_count() or 1}]"
    check_java()
    if scheduler == "spark-local":
        os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers: this interpreter, with ROOT
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # this machine only (and no warning about its name)
    else:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    log_config = Path(__file__).resolve().parent.parent / "data" / "spark" / "log4j2.properties"
    conf = (
        pyspark.SparkConf()
        .setMaster(master)
        .setAppName("rdf_ttbar")
        .set("spark.ui.showConsoleProgress", "false")
        .set("spark.ui.enabled", "false")
        .set("spark.python.worker.reuse", "true")  # a worker process runs many tasks (ROOT imported once)
        .set("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_config}")
        # the workers import ROOT: without the PyPI build's pre-release warning (rdf_ttbar.quiet) in the run's output
        .set("spark.executorEnv.PYTHONWARNINGS", "ignore::UserWarning:ROOT")
    )
    try:
        context = pyspark.SparkContext.getOrCreate(conf)
    except Exception as err:  # noqa: BLE001 (py4j's and Spark's own errors)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"Spark could not start ({first}); check Java and --scheduler-address") from None
    context.setLogLevel("ERROR")
    return context, True


# ---------------------------------------------------------------------------- errors
PYTHON_TRACEBACK = "Traceback (most recent call last):"


def task_error(text: str) -> str:
    """What failed, from the text of the Java exception a failed Spark job raises (Java stack traces, with
    the task's Python traceback inside): the task's Python exception line, else Spark's reason for
    aborting the job (a worker that crashed or was killed), else the first line."""
    _, found, rest = text.partition(PYTHON_TRACEBACK)
    if found:
        for line in rest.splitlines():
            if line.strip() and not line[0].isspace():
                return line.strip()
    reason = re.search(r"most recent failure: Lost task [^:]*?\): (.*)", text)
    if reason:  # without Spark's class names and its advice to turn on Python's fault handler
        why = re.sub(r"^(?:[\w.]+(?:Exception|Error): )+", "", reason.group(1).strip())
        return re.sub(r"\. Consider setting .*", ".", why)
    return text.splitlines()[0] if text else text


# ---------------------------------------------------------------------------- progress
class SparkProgress(DaskProgress):
    """DaskProgress's line, counting the graphs whose map-reduce on Spark has returned."""

    def __init__(self, total: int, draw: bool, interval_s: float = 0.5):
        super().__init__(total, draw, interval_s)
        self.finished = 0
        self.engine = "Spark"

    def done(self) -> int:
        with self._lock:
            return self.finished

    def one_done(self) -> None:
        with self._lock:
            self.finished += 1


@contextmanager
def quiet_progress(total: int, draw: bool):
    """Count the graphs as ROOT's Spark backend finishes them; one line on stderr with ``draw``."""
    from ROOT._distrdf.Backends.Spark.Backend import SparkBackend

    original = SparkBackend.ProcessAndMerge

    def counted(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        finally:
            tracker.one_done()

    with SparkProgress(total, draw) as tracker:
        SparkBackend.ProcessAndMerge = counted  # type: ignore[method-assign]
        try:
            yield tracker
        finally:
            SparkBackend.ProcessAndMerge = original  # type: ignore[method-assign]
