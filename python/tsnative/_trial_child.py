"""The child of :func:`tsnative.trial_load`: loads one file and prints one JSON line with the outcome."""

from __future__ import annotations

import json
import resource
import sys


def main(request_text: str) -> int:
    request = json.loads(request_text)
    import tsnative  # after the parent's limits apply: importing torch is part of what they bound
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
