"""Declarative configuration: ``junction-control apply -f junction.yaml``.

`spec.py` reads and checks the file; `apply.py` (with `apply_people.py`)
makes the database match it, idempotently, by natural names; `report.py`
holds what a run did and the unit of work that audits each of its writes.
"""

from junction_control.declarative.apply import apply_spec
from junction_control.declarative.report import ApplyReport, Change
from junction_control.declarative.spec import Spec, load_spec, parse_spec

__all__ = ["ApplyReport", "Change", "Spec", "apply_spec", "load_spec", "parse_spec"]
