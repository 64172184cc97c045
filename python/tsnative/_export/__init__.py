"""tsnative.export's machinery; tsnative.export (export.py) is the public door.

- torchscript: export to a TorchScript file (script, trace, freeze), and TorchScript's upstream deprecation
  handled once (torchscript_calls, which the benchmarks use too)
- pt2: export to an AOTInductor package (.pt2)
- verify: running the exported file through the native engine and comparing it with eager PyTorch
- verify_inputs: the inputs verified on when the caller gives none
- detections: object detections compared by matching them
- structure: walking nested input/output structures, and describing them for the metadata
- metadata: the tsnative.json a file records
- errors: export's exceptions and the one-line causes its messages quote

Nothing is imported here: the modules import torch, and some (torchscript_calls, structure) are used on their own.
"""
