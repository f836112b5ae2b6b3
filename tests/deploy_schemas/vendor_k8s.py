"""Rebuild the vendored Kubernetes schemas from a kubernetes-validate wheel.

    pip download --no-deps kubernetes-validate==1.37.0 && unzip kubernetes_validate-*.whl -d kv
    python tests/deploy_schemas/vendor_k8s.py kv/kubernetes_validate/kubernetes-json-schema

Keeps only the kinds `deploy/k8s/junction.yaml` ships and the definitions they
reach, for the minimum and the newest Kubernetes versions the manifests are
checked against (strict schemas: an unknown field is an error).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VERSIONS = ("1.30.0", "1.37.0")
KINDS = (
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
)
PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def _gvk(definition: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for g in definition.get("x-kubernetes-group-version-kind", []):
        api = f"{g['group']}/{g['version']}" if g["group"] else g["version"]
        out.append((api, g["kind"]))
    return out


def _refs(node: Any, found: set[str]) -> None:
    """Collect the definitions `node` refers to; point the refs into this file; drop prose."""
    if isinstance(node, dict):
        node.pop("description", None)
        ref = node.get("$ref")
        for prefix in PREFIXES:
            if isinstance(ref, str) and ref.startswith(prefix):
                found.add(ref[len(prefix) :])
                node["$ref"] = "#/$defs/" + ref[len(prefix) :]
                break
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def vendor(source: Path, version: str) -> dict[str, Any]:
    defs = json.loads((source / f"v{version}-local-strict/_definitions.json").read_text())["$defs"]
    kinds: dict[str, str] = {}
    for name, definition in defs.items():
        for gvk in _gvk(definition):
            if gvk in KINDS:
                kinds[f"{gvk[0]} {gvk[1]}"] = name
    missing = [k for k in KINDS if f"{k[0]} {k[1]}" not in kinds]
    if missing:
        raise SystemExit(f"{version}: no schema for {missing}")
    keep: dict[str, Any] = {}
    todo = set(kinds.values())
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        definition = json.loads(json.dumps(defs[name]))
        found: set[str] = set()
        _refs(definition, found)
        keep[name] = definition
        todo |= found - keep.keys()
    return {
        "source": f"kubernetes-validate 1.37.0, v{version}-local-strict",
        "kinds": dict(sorted(kinds.items())),
        "$defs": dict(sorted(keep.items())),
    }


def main() -> None:
    source = Path(sys.argv[1])
    for version in VERSIONS:
        out = HERE / f"k8s-{version.rsplit('.', 1)[0]}.json"
        out.write_text(json.dumps(vendor(source, version), separators=(",", ":"), sort_keys=True))
        print(out, out.stat().st_size)


if __name__ == "__main__":
    main()
