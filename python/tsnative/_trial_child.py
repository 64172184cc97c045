"""The child of :func:`tsnative.trial_load`: loads one file and prints one JSON line with the outcome.

Run as a script (``python _trial_child.py REQUEST``), not as ``-m tsnative._trial_child``: importing the package
imports torch, and the limits must apply before that. Only the standard library is imported before they do.
"""

from __future__ import annotations

import json
import os
import resource
import sys


def limit_self(memory_limit_bytes: int) -> None:
    """Caps this process's private memory (RLIMIT_DATA) and disables core dumps."""
    resource.setrlimit(resource.RLIMIT_DATA, (memory_limit_bytes, memory_limit_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(request_text: str) -> int:
    request = json.loads(request_text)
    limit_self(request["memory_limit_bytes"])
    # A script's own folder (tsnative/) leads sys.path, where its modules would shadow others (report, engine...):
    # import tsnative from the folder the parent imported it from instead.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [request["package_parent"], *(p for p in sys.path if os.path.abspath(p or ".") != here)]
    # After the limits apply: importing torch and the native module is part of what they bound. (`import tsnative`
    # alone imports neither: the package loads them on first use.)
    import tsnative
    import tsnative.engine
    from tsnative.isolation import READY_LINE

    print(READY_LINE, flush=True)
    try:
        engine = tsnative.Engine(request["path"], method=request["method"], sha256=request["sha256"])
    except FileNotFoundError:
        outcome = {"ok": False, "error": "FileNotFoundError"}
    except MemoryError:
        outcome = {"ok": False, "out_of_memory": True}
    except tsnative.ModelLoadError as error:
        # LibTorch reports a failed allocation as std::bad_alloc or "DefaultCPUAllocator: can't allocate memory".
        exhausted = any(sign in error.reason for sign in ("bad_alloc", "can't allocate memory", "Cannot allocate"))
        outcome = {"ok": False, "out_of_memory": True} if exhausted else {"ok": False, "reason": error.reason}
    except ValueError as error:  # e.g. an unknown method: the parent raises it as it is
        outcome = {"ok": False, "error": "ValueError", "message": str(error)}
    else:
        outcome = {
            "ok": True,
            "load_seconds": engine.load_seconds,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
    print(json.dumps(outcome), flush=True)
    return 0 if outcome["ok"] else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
