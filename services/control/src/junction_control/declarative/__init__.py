"""Declarative configuration: ``junction-control apply -f junction.yaml``.

`spec.py` reads and checks the file; `apply.py` makes the database match it,
idempotently, by natural names.
"""

from junction_control.declarative.apply import ApplyReport, Change, apply_spec
from junction_control.declarative.spec import Spec, load_spec, parse_spec

__all__ = ["ApplyReport", "Change", "Spec", "apply_spec", "load_spec", "parse_spec"]
