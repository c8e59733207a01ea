"""Runs a user's Python ingest function outside the Node worker.

Two modes, chosen by argv[1]:

  run    one run per process (the cold path). The job (JSON) arrives on stdin; the result
         (JSON) leaves on fd 3; the function's own print() output goes to stdout/stderr.
  serve  a fork server (the warm path). It imports pandas once, then reads one JSON command per
         line on stdin and hands each run to a forked child (one spare is kept forked ahead),
         each with its own process group, memory limit and stdout/stderr/result pipes.
         Everything it reports to Node goes on its stdout as frames: a JSON header line,
         followed by `n` raw bytes when the header has `n`.

The result is {"ok": true, "rows": [...]}, or for a DataFrame {"ok": true, "columns": {name:
[values]}, "length": n}, or {"ok": false, "kind": "exception"|"memory"|"bad_result"|"setup",
"message": ..., "traceback": ...}. Non-finite floats become the strings "NaN", "Infinity" and
"-Infinity" so the validator in Node can reject them by name (JSON has no NaN). Timestamps
become ISO 8601 text: naive stays naive; tz-aware keeps its offset (single values) or is written
in UTC with "Z" (DataFrame datetime columns, vectorised); both keep the instant.
"""

import datetime
import decimal
import json
import linecache
import math
import os
import resource
import selectors
import signal
import sys
import traceback

MIB = 1024 * 1024

# The original's examples import dagster's logger (shims/dagster): appended, so a real Dagster wins.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "shims"))


# ---------------------------------------------------------------- conversion to JSON rows


def _float(v):
    if math.isfinite(v):
        return v
    if math.isnan(v):
        return "NaN"
    return "Infinity" if v > 0 else "-Infinity"


def _convert(v, pd, np):
    # Most common types first: this runs once per cell.
    t = type(v)
    if v is None or t is str or t is bool:
        return v
    if t is int:
        return v
    if t is float:
        return _float(v)
    if pd is not None:
        if v is pd.NaT or v is pd.NA:
            return None
        if isinstance(v, pd.Timestamp):
            return v.isoformat()
    if np is not None:
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.floating):
            return _float(float(v))
        if isinstance(v, np.datetime64):
            if np.isnat(v):
                return None
            return pd.Timestamp(v).isoformat() if pd is not None else str(v)
        if isinstance(v, np.ndarray):
            return [_convert(x, pd, np) for x in v.tolist()]
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, float):
        return _float(float(v))
    if isinstance(v, int):
        return int(v)
    if isinstance(v, decimal.Decimal):
        return _float(float(v))
    if isinstance(v, dict):
        return {str(k): _convert(x, pd, np) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_convert(x, pd, np) for x in v]
    return str(v)


def to_rows(result):
    """Turns what ingest() returned into plain rows (or columns, for a DataFrame), or raises BadResult."""
    pd = sys.modules.get("pandas")
    np = sys.modules.get("numpy")
    if result is None:
        raise BadResult("ingest() returned None; expected a pandas DataFrame or a list of dicts")
    if pd is not None and isinstance(result, pd.DataFrame):
        return frame_columns(result, pd, np)
    if isinstance(result, dict):
        lengths = set()
        for k, v in result.items():
            if not isinstance(v, (list, tuple)) and not (np is not None and isinstance(v, np.ndarray)):
                raise BadResult(
                    "ingest() returned a dict whose value for %r is a %s; expected a dict of lists"
                    % (k, type(v).__name__)
                )
            lengths.add(len(v))
        if len(lengths) > 1:
            raise BadResult("ingest() returned a dict of lists of different lengths")
        n = lengths.pop() if lengths else 0
        keys = [str(k) for k in result.keys()]
        cols = list(result.values())
        return [{k: _convert(c[i], pd, np) for k, c in zip(keys, cols)} for i in range(n)]
    if isinstance(result, (list, tuple)):
        rows = []
        for i, r in enumerate(result):
            if not isinstance(r, dict):
                raise BadResult("ingest() returned a list whose item %d is a %s, not a dict" % (i, type(r).__name__))
            rows.append({str(k): _convert(v, pd, np) for k, v in r.items()})
        return rows
    raise BadResult(
        "ingest() returned a %s; expected a pandas DataFrame, a list of dicts or a dict of lists"
        % type(result).__name__
    )


def frame_columns(df, pd, np):
    """A DataFrame as {"columns": {name: [values]}, "length": n}, converted a column at a time."""
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        raise BadResult("the returned DataFrame has duplicate column names: " + ", ".join(names))
    columns = {}
    for name, (_, series) in zip(names, df.items()):
        dtype = series.dtype
        if dtype.kind == "M":
            # datetime64, naive or tz-aware: vectorised ISO text, milliseconds. A tz-aware column is
            # written as UTC with "Z" (same instant); a naive one stays naive.
            aware = getattr(dtype, "tz", None) is not None
            values = (series.dt.tz_convert("UTC") if aware else series).to_numpy(dtype="datetime64[ns]")
            text = np.datetime_as_string(values, unit="ms").tolist()
            suffix = "Z" if aware else ""
            if series.hasnans:
                missing = series.isna().to_numpy().tolist()
                columns[name] = [None if m else t + suffix for t, m in zip(text, missing)]
            else:
                columns[name] = [t + suffix for t in text] if suffix else text
        elif isinstance(dtype, np.dtype) and dtype.kind == "f":
            values = series.to_numpy()
            column = values.tolist()
            if not np.isfinite(values).all():
                column = [_float(v) for v in column]
            columns[name] = column
        elif isinstance(dtype, np.dtype) and dtype.kind in "iub":
            columns[name] = series.to_numpy().tolist()
        else:  # object, category, nullable and other extension types: one value at a time
            columns[name] = [_convert(v, pd, np) for v in series.astype(object).tolist()]
    return {"columns": columns, "length": len(df)}


class BadResult(Exception):
    pass


# ---------------------------------------------------------------- one run


def _user_traceback(exc):
    # Drop the harness's own frame so the trace starts in the user's code.
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def run_job(job):
    """Runs one job in this process; returns the result dict (never raises)."""
    source = job["source"]
    filename = job.get("path") or "<ingest_fn %s>" % job.get("batch", "?")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "ingest_fn", "__file__": filename, "__builtins__": __builtins__}
    try:
        code = compile(source, filename, "exec")
        exec(code, namespace)
        fn = namespace.get("ingest")
        if not callable(fn):
            return {"ok": False, "kind": "bad_result", "message": "the source does not define a function ingest()"}
        result = fn(**(job.get("params") or {}))
        rows = to_rows(result)
        del result
        if isinstance(rows, dict):  # a DataFrame, column by column
            return {"ok": True, **rows}
        return {"ok": True, "rows": rows}
    except MemoryError as exc:
        # Free what the function allocated (its frames hold it) before formatting anything.
        traceback.clear_frames(exc.__traceback__)
        namespace.clear()
        return {"ok": False, "kind": "memory", "message": str(exc), "traceback": _user_traceback(exc)}
    except BadResult as exc:
        return {"ok": False, "kind": "bad_result", "message": str(exc)}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from user code too
        return {"ok": False, "kind": "exception", "message": "%s: %s" % (type(exc).__name__, exc),
                "traceback": _user_traceback(exc)}


def encode_result(result):
    try:
        return json.dumps(result, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except MemoryError as exc:
        return json.dumps({"ok": False, "kind": "memory", "message": str(exc)}).encode()
    except Exception as exc:
        return json.dumps({"ok": False, "kind": "bad_result", "message": "result is not serialisable: %s" % exc}).encode()


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def set_memory_limit(memory_mb):
    # RLIMIT_DATA (private writable memory, Linux >= 4.7) rather than RLIMIT_AS: RLIMIT_AS also
    # counts reserved-but-unused address space (thread stacks, OpenBLAS buffers, file mappings),
    # so a limit that fits the data breaks numpy. Allocations past the limit raise MemoryError.
    if memory_mb and memory_mb > 0:
        limit = int(memory_mb * MIB)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def prepare_child_stdio():
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    try:
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
    except Exception:
        pass


def import_pandas():
    try:
        import numpy  # noqa: F401
        import pandas  # noqa: F401
        return None
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, exc)


# ---------------------------------------------------------------- cold: one process per run


def die_with_parent():
    # If the Node worker dies, this run must not go on without a time limit.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def main_run():
    die_with_parent()
    result_fd = os.dup(3)  # private copy (not inheritable); fd 3 itself is closed below
    os.close(3)
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    prepare_child_stdio()
    problem = import_pandas()
    if problem is not None:
        write_all(result_fd, json.dumps({"ok": False, "kind": "setup", "message": problem}).encode())
        return 0
    set_memory_limit(job.get("memoryMb"))
    data = encode_result(run_job(job))
    sys.stdout.flush()
    sys.stderr.flush()
    write_all(result_fd, data)
    os.close(result_fd)
    return 0


# ---------------------------------------------------------------- warm: fork server


class Child:
    """A forked child: first a spare waiting for its job on fd 4, then a run."""

    __slots__ = ("id", "pid", "pidfd", "job_w", "fds", "result", "result_sent")

    def __init__(self, pid, job_w, fds):
        self.id = None
        self.pid = pid
        self.pidfd = None
        self.job_w = job_w
        self.fds = fds  # fd -> "stdout" | "stderr" | "result"
        self.result = []
        self.result_sent = False


def warm_up(pd, np):
    """Runs the common pandas paths once in the server, so each child inherits them initialised."""
    try:
        import requests  # noqa: F401  (most ingest functions fetch something; optional)
    except Exception:
        pass
    frame = pd.DataFrame(
        {
            "metric_name": ["a", "b"],
            "metric_value": [1.0, np.nan],
            "metric_timestamp": pd.date_range("2024-01-01", periods=2, freq="min", tz="UTC"),
        }
    )
    frame["naive"] = pd.Timestamp.utcnow().tz_localize(None)
    encode_result({"ok": True, **frame_columns(frame, pd, np)})
    encode_result({"ok": True, "rows": to_rows(frame.to_dict("records"))})


def main_serve():
    ctl_in = os.dup(0)
    ctl_out = os.dup(1)
    # From here on, anything the server or a library prints goes to stderr, never into the frames.
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    def send(header, payload=b""):
        if payload:
            header["n"] = len(payload)
        write_all(ctl_out, json.dumps(header).encode() + b"\n" + payload)

    problem = import_pandas()
    if problem is not None:
        send({"t": "fatal", "message": problem})
        return 3
    if not hasattr(os, "pidfd_open"):  # Python < 3.9 or Linux < 5.3: Node falls back to cold runs
        send({"t": "unsupported", "message": "os.pidfd_open is not available"})
        return 4
    import gc

    import numpy as np
    import pandas as pd

    warm_up(pd, np)
    # Objects that exist now are never collected in the children, so a child's GC does not touch
    # (and copy-on-write) the whole inherited heap.
    gc.collect()
    gc.freeze()
    max_fd = max(65536, os.sysconf("SC_OPEN_MAX"))
    sel = selectors.DefaultSelector()
    sel.register(ctl_in, selectors.EVENT_READ, ("ctl", None, None))
    runs = {}
    spares = []
    pending = bytearray()

    def fork_child():
        job_r, job_w = os.pipe()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        r_res, w_res = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: wait for a job, run it, exit
            code = 0
            try:
                os.setpgid(0, 0)
                os.dup2(w_out, 1)
                os.dup2(w_err, 2)
                os.dup2(w_res, 3)
                os.dup2(job_r, 4)
                os.closerange(5, max_fd)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                prepare_child_stdio()
                chunks = []
                while True:
                    chunk = os.read(4, 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
                os.close(4)
                if chunks:  # no job: the server discarded this spare
                    job = json.loads(b"".join(chunks))
                    np.random.seed()  # children would otherwise share the server's RNG state
                    os.environ.clear()
                    os.environ.update(job.get("env") or {})
                    set_memory_limit(job.get("memoryMb"))
                    data = encode_result(run_job(job))
                    sys.stdout.flush()
                    sys.stderr.flush()
                    write_all(3, data)
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child did it first
        for fd in (job_r, w_out, w_err, w_res):
            os.close(fd)
        return Child(pid, job_w, {r_out: "stdout", r_err: "stderr", r_res: "result"})

    def discard(child):
        for fd in [child.job_w, *child.fds]:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(child.pid, 0)

    def start(job):
        data = json.dumps(job).encode()
        for _ in range(2):
            child = spares.pop() if spares else fork_child()
            try:
                write_all(child.job_w, data)
                os.close(child.job_w)
                break
            except OSError:  # the spare died (killed from outside): use a fresh one
                discard(child)
        else:
            raise RuntimeError("cannot hand a job to a forked child")
        child.id = job["id"]
        child.job_w = None
        child.pidfd = os.pidfd_open(child.pid)
        runs[child.id] = child
        for fd, kind in child.fds.items():
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ, ("pipe", child, kind))
        sel.register(child.pidfd, selectors.EVENT_READ, ("pid", child, None))
        send({"t": "started", "id": child.id, "pid": child.pid})

    def close_fd(run, fd):
        sel.unregister(fd)
        os.close(fd)
        del run.fds[fd]

    def read_pipe(run, fd, kind, drain):
        while True:
            try:
                data = os.read(fd, 1 << 20)
            except BlockingIOError:
                return
            if not data:
                close_fd(run, fd)
                if kind == "result":
                    send_result(run)
                return
            if kind == "result":
                run.result.append(data)
            else:
                send({"t": "log", "id": run.id, "s": kind}, data)
            if not drain:
                return

    def send_result(run):
        # The child flushed its stdout/stderr before writing the result: forward that output
        # first, then the result, so Node can settle the run without waiting for the exit.
        for fd, kind in list(run.fds.items()):
            if kind != "result":
                read_pipe(run, fd, kind, True)
        if run.result and not run.result_sent:
            run.result_sent = True
            send({"t": "result", "id": run.id}, b"".join(run.result))

    def finish(run, status):
        # Strays the function left behind (subprocesses) die with the run.
        try:
            os.killpg(run.pid, signal.SIGKILL)
        except OSError:
            pass
        for fd, kind in list(run.fds.items()):
            read_pipe(run, fd, kind, True)
        for fd in list(run.fds):
            close_fd(run, fd)
        send_result(run)
        code = os.waitstatus_to_exitcode(status)
        send({"t": "exit", "id": run.id, "code": code if code >= 0 else None, "signal": -code if code < 0 else None})
        del runs[run.id]

    def kill_all():
        for child in [*runs.values(), *spares]:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except OSError:
                pass

    send({"t": "ready", "pandas": pd.__version__, "python": sys.version.split()[0], "pid": os.getpid()})
    spares.append(fork_child())

    while True:
        # Keep one spare child forked ahead, so a run does not wait for fork() (10-20 ms with
        # pandas loaded). Fork it when the server is idle: never while a short run's output is
        # waiting to be forwarded.
        if spares:
            events = sel.select()
        else:
            events = sel.select(0.002 if runs else 0)
            if not events:
                spares.append(fork_child())
                continue
        for key, _ in events:
            what, run, kind = key.data
            if what == "ctl":
                data = os.read(ctl_in, 1 << 20)
                if not data:  # Node went away: take every run with us
                    kill_all()
                    return 0
                pending.extend(data)
                while True:
                    nl = pending.find(b"\n")
                    if nl < 0:
                        break
                    line = bytes(pending[:nl])
                    del pending[: nl + 1]
                    if line.strip():
                        cmd = json.loads(line)
                        if cmd.get("op") == "run":
                            start(cmd)
            elif what == "pipe":
                if key.fd in run.fds:
                    read_pipe(run, key.fd, kind, False)
            elif what == "pid":
                sel.unregister(run.pidfd)
                os.close(run.pidfd)
                _, status = os.waitpid(run.pid, 0)
                finish(run, status)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "run"
    sys.exit(main_serve() if mode == "serve" else main_run())
