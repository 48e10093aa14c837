"""The Python runtime of a rolecall Lambda function: run as a script, in a fresh process, one invocation.

Started by rolecall.services.lambda_.runtime as `python -u -P bootstrap.py [options]` in the function's
unpacked code (LAMBDA_TASK_ROOT) with the Lambda environment -- inside a sandbox, at
/var/runtime/bootstrap.py beside boto3 (rolecall.services.lambda_.sandbox). It imports nothing from rolecall.

Inside the sandbox, rolecall starts this script first as `python -I -S bootstrap.py --environment-from-stdin
[options]` with an environment of its own, and the first line on stdin holds the function's environment
(credentials and the function's own variables, which must never reach bwrap, which may run as root: a
variable such as LD_PRELOAD would act there). It replaces itself at once by the runtime proper, the same
script run with that environment.

Options, applied before the function's code is imported:
  --relay SOCKET PORT   listen on 127.0.0.1:PORT and relay each connection to the Unix socket SOCKET: in the
                        sandbox's network namespace this is the function's only way out, to rolecall
  --limit-data BYTES    RLIMIT_DATA, soft and hard (memory, where no cgroup limits the sandbox)
  --limit-procs N       RLIMIT_NPROC, soft and hard

Channels: the server reads this process's original stdout as the result channel (newline-delimited JSON
messages), and its stderr as the function's log. Before anything else, stdout is moved to a private file
descriptor and fd 1 is pointed at the log, so everything the function prints -- print(), logging, child
processes -- lands in its log and nothing it prints can forge a result.

  1. init: import the handler's module (Lambda's INIT phase), then send {"ready": ..., "initMs": ...}
  2. read the invocation from stdin: {"requestId", "functionArn", "timeout", "clientContext", "event"}
  3. call the handler with the event and a context object; send {"result": <JSON text>} or
     {"error": <Lambda's error payload>, "errorLog": <the "[ERROR] ..." log entry>}, plus durationMs and
     maxRssKb.
"""

import importlib
import json
import logging
import os
import resource
import socket
import sys
import threading
import time
import traceback


def exec_with_environment_from_stdin() -> None:
    """Read one line (the environment, as JSON) from stdin without reading past it, then become the
    runtime with that environment. Nothing else is on stdin until the runtime reports ready."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 1)
        if not chunk:
            raise SystemExit("bootstrap: no environment on stdin")
        line += chunk
    environment = json.loads(line)
    script = os.path.abspath(__file__)
    os.execve(sys.executable, [sys.executable, "-u", "-P", "-s", script, *sys.argv[2:]], environment)


if __name__ == "__main__" and sys.argv[1:2] == ["--environment-from-stdin"]:
    exec_with_environment_from_stdin()  # before the channels below are set up: they would survive exec

RESULT = os.fdopen(os.dup(1), "w", encoding="utf-8")  # os.dup: not inherited by the function's children
os.dup2(2, 1)


def send(message: dict) -> None:
    RESULT.write(json.dumps(message, separators=(",", ":")) + "\n")
    RESULT.flush()


class Identity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class ClientContext:
    def __init__(self, data: dict) -> None:
        self.client = data.get("client")
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The handler's second argument, with the attributes and method of Lambda's Python context."""

    def __init__(self, request: dict, deadline: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = request["functionArn"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request["requestId"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = Identity()
        custom = request.get("clientContext")
        self.client_context = ClientContext(custom) if isinstance(custom, dict) else None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.time()) * 1000), 0)


class LambdaLogHandler(logging.Handler):
    """Lambda's format for the root logger: one log entry per record, its newlines kept inside the entry."""

    def __init__(self) -> None:
        super().__init__()
        self.request_id = ""
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            stamp = f"{when}.{int(record.msecs):03d}Z"
            text = self.format(record).replace("\n", "\r")
            sys.stdout.write(f"[{record.levelname}]\t{stamp}\t{self.request_id}\t{text}\n")
        except Exception:
            self.handleError(record)


def error_payload(error_type: str, message: str, request_id: str, stack: list) -> dict:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def error_log(error_type: str, message: str, stack: list) -> str:
    lines = [f"[ERROR] {error_type}: {message}", "Traceback (most recent call last):"]
    lines += [frame.rstrip("\n") for frame in stack]
    return "\r".join(lines)


def load_handler() -> tuple:
    """(handler, None) or (None, (errorType, errorMessage, stackTrace))."""
    spec = os.environ.get("_HANDLER", "")
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as exc:
        return None, ("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}", [])
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, ("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", [])
    except SyntaxError as exc:
        detail = f"{exc.msg} ({os.path.basename(exc.filename or '')}, line {exc.lineno})"
        return None, ("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {detail}", [])
    except Exception as exc:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return None, (type(exc).__name__, str(exc), stack)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, (
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
            [],
        )
    return handler, None


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def relay_connection(conn: socket.socket, path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        conn.close()
        upstream.close()
        return
    back = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
    back.start()
    pump(conn, upstream)
    back.join()
    conn.close()
    upstream.close()


def start_relay(path: str, port: int) -> None:
    """Serve 127.0.0.1:port by relaying to the Unix socket at path, on daemon threads of this process (the
    listening socket is not inherited: child processes reach it through this one)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=relay_connection, args=(conn, path), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def apply_options(argv: list) -> None:
    while argv:
        option = argv.pop(0)
        if option == "--relay":
            start_relay(argv.pop(0), int(argv.pop(0)))
        elif option == "--limit-data":
            limit = int(argv.pop(0))
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        elif option == "--limit-procs":
            limit = int(argv.pop(0))
            resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
        else:
            raise SystemExit(f"bootstrap: unknown option {option}")


def main() -> None:
    apply_options(sys.argv[1:])
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.insert(0, task_root)
    log_handler = LambdaLogHandler()
    root = logging.getLogger()
    root.addHandler(log_handler)
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING").upper())

    started = time.time()
    handler, init_error = load_handler()
    send({"ready": True, "initMs": (time.time() - started) * 1000})

    request = json.loads(sys.stdin.read())
    sys.stdin = open(os.devnull)  # noqa: SIM115 - the function reads no stdin
    request_id = request["requestId"]
    log_handler.request_id = request_id
    began = time.time()
    outcome: dict
    if init_error is not None:
        error_type, message, stack = init_error
        outcome = {
            "error": error_payload(error_type, message, request_id, stack),
            "errorLog": error_log(error_type, message, stack),
        }
    else:
        context = LambdaContext(request, began + request["timeout"])
        try:
            event = json.loads(request["event"]) if request["event"] else {}
            result = handler(event, context)
        except Exception as exc:
            stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
            error_type = type(exc).__name__
            outcome = {
                "error": error_payload(error_type, str(exc), request_id, stack),
                "errorLog": error_log(error_type, str(exc), stack),
            }
        else:
            try:
                outcome = {"result": json.dumps(result)}
            except (TypeError, ValueError) as exc:
                message = f"Unable to marshal response: {exc}"
                outcome = {
                    "error": error_payload("Runtime.MarshalError", message, request_id, []),
                    "errorLog": error_log("Runtime.MarshalError", message, []),
                }
    sys.stdout.flush()
    sys.stderr.flush()
    outcome["durationMs"] = (time.time() - began) * 1000
    outcome["maxRssKb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    send(outcome)


if __name__ == "__main__":
    main()
