"""`python -m sandbox` (what `make sandbox` runs): starts the sandbox on 127.0.0.1, writes
$HEALTH_PIPELINE_HOME/sandbox.env once it is ready, serves until Ctrl-C or SIGTERM.

Reads HEALTH_PIPELINE_SANDBOX_PORT (default 4599; 0 picks a free port), HEALTH_PIPELINE_HOME
(default ./.health_pipeline), HEALTH_PIPELINE_TERRAFORM_DIR (default the project's terraform/) and
HEALTH_PIPELINE_SANDBOX_FIREHOSE_INTERVAL_S (the stream's buffering interval; default Terraform's).
It is not part of health_pipeline: the project's rule that only settings.py reads the environment
is about the code location, and this is tooling beside it.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

DEFAULT_PORT = 4599
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    port_text = os.environ.get("HEALTH_PIPELINE_SANDBOX_PORT", "").strip() or str(DEFAULT_PORT)
    if not port_text.isdigit() or int(port_text) > 65535:
        print(
            f"sandbox: HEALTH_PIPELINE_SANDBOX_PORT={port_text!r} is not a port; give 1-65535, or 0 for any free port",
            file=sys.stderr,
        )
        return 2
    interval_text = os.environ.get("HEALTH_PIPELINE_SANDBOX_FIREHOSE_INTERVAL_S", "").strip()
    if interval_text and not (interval_text.isdigit() and int(interval_text) <= 900):
        print(
            f"sandbox: HEALTH_PIPELINE_SANDBOX_FIREHOSE_INTERVAL_S={interval_text!r} is not a buffering interval;"
            " give 0-900 seconds, or leave it unset for Terraform's",
            file=sys.stderr,
        )
        return 2
    home = Path(os.environ.get("HEALTH_PIPELINE_HOME", "").strip() or ".health_pipeline").expanduser().resolve()
    terraform = Path(os.environ.get("HEALTH_PIPELINE_TERRAFORM_DIR", "").strip() or PROJECT_ROOT / "terraform")
    env_file = home / "sandbox.env"
    env_file.unlink(missing_ok=True)

    from sandbox.server import Sandbox

    started = time.monotonic()
    sandbox = Sandbox(terraform, port=int(port_text), buffer_interval_s=int(interval_text) if interval_text else None)
    try:
        sandbox.start()
    except OSError as err:
        print(
            f"sandbox: cannot serve on 127.0.0.1:{port_text} ({err}); set HEALTH_PIPELINE_SANDBOX_PORT to a free port",
            file=sys.stderr,
        )
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    home.mkdir(parents=True, exist_ok=True)
    partial = env_file.with_suffix(".env.partial")
    partial.write_text(
        "# The aws mode against the sandbox: `set -a; . "
        + str(env_file)
        + "; set +a` (docs/operations/sandbox.md)\n"
        + "".join(f"{k}={shlex.quote(v)}\n" for k, v in sandbox.environment().items()),
        encoding="utf-8",
    )
    partial.replace(env_file)  # appears whole, once everything is ready
    print(f"sandbox: AWS on {sandbox.endpoint} ready in {time.monotonic() - started:.1f} s", flush=True)
    print(f"sandbox: environment in {env_file}; Ctrl-C stops it", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        env_file.unlink(missing_ok=True)
        sandbox.stop()
        print("sandbox: stopped", flush=True)
    # Everything the sandbox held lived in this process and is gone; tearing down the interpreter's
    # modules (moto, PyIceberg, pyarrow) would take seconds more and achieve nothing.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
