"""Shared machinery of the deploy/ checks: kustomize builds and the two schema validators.

* Every directory under deploy/ holding a ``kustomization.yaml`` is built with the real ``kustomize``
  (built by ``make kustomize`` from its Go module into .marketpipe/tools/bin, or ``MARKETPIPE_KUSTOMIZE``).
  A missing binary fails the tests: the manifests are never "validated" by skipping.
* Core Kubernetes objects are validated strictly (unknown fields rejected) with ``kubernetes-validate``
  against each Kubernetes version in :data:`K8S_VERSIONS`.
* Strimzi resources are validated with ``jsonschema`` against the ``openAPIV3Schema`` of the CRDs in
  deploy/crds/strimzi-<version>/, made strict the way the API server's strict field validation is:
  an object schema with ``properties`` and neither ``additionalProperties`` nor
  ``x-kubernetes-preserve-unknown-fields`` rejects unknown fields; ``nullable`` admits null; only the
  CRD's served versions are accepted; CEL rules (``x-kubernetes-validations``) are evaluated with the
  ``cel`` package (common-expression-language) with ``self`` bound to the value, as on create (a
  transition rule, one that reads ``oldSelf``, only runs on update); a rule that cannot be compiled or
  evaluated here rejects the value rather than passing it unchecked. Their ``metadata`` (the CRD
  schema only says "object") is checked as Kubernetes ObjectMeta.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cel
import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
#: Kubernetes versions the manifests must be valid for: K3s/Kubernetes 1.33 (oldest still patched in
#: 2026) up to 1.37, the newest schema kubernetes-validate ships.
K8S_VERSIONS = ("1.33", "1.34", "1.35", "1.36", "1.37")
STRIMZI_GROUP = "kafka.strimzi.io"

Doc = dict[str, Any]


class ManifestError(ValueError):
    """A manifest that Kubernetes or its CRD would reject; ``str`` says which object and where."""


def kustomize_binary() -> Path:
    explicit = os.environ.get("MARKETPIPE_KUSTOMIZE")
    candidate = Path(explicit) if explicit else REPO / ".marketpipe" / "tools" / "bin" / "kustomize"
    if not candidate.is_file():
        found = shutil.which("kustomize")
        if found is None:
            pytest.fail(f"kustomize not found at {candidate}: run `make kustomize` (mk/deploy.mk)")
        candidate = Path(found)
    return candidate


def overlays() -> list[Path]:
    """Every kustomization under deploy/ (each is something a user can `kubectl apply -k`)."""
    return sorted(p.parent for p in DEPLOY.rglob("kustomization.yaml"))


def kustomize_build(directory: Path) -> list[Doc]:
    result = subprocess.run(
        [str(kustomize_binary()), "build", str(directory)], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise ManifestError(f"kustomize build {directory}: {result.stderr.strip()}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def describe(doc: Doc) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


# ---- core Kubernetes objects -------------------------------------------------------------------


def validate_k8s(doc: Doc, version: str) -> None:
    """Strict schema validation of one core object; raises :class:`ManifestError`."""
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path) or "(root)"
        raise ManifestError(f"{describe(doc)} on Kubernetes {version}: {where}: {exc.message}") from None
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise ManifestError(f"{describe(doc)}: no schema in Kubernetes {version}: {exc}") from None


def validate_object_meta(doc: Doc, version: str) -> None:
    """ObjectMeta of a custom resource, checked strictly by carrying it on a ConfigMap."""
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc.get("metadata")}
    try:
        kubernetes_validate.validate(carrier, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        raise ManifestError(f"{describe(doc)}: {where}: {exc.message}") from None


# ---- Strimzi custom resources ------------------------------------------------------------------


def _strict(node: Any) -> Any:
    """An OpenAPI v3 (structural CRD) schema as a strict JSON Schema."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in ("anyOf", "oneOf", "allOf") or (
            key in ("items", "additionalProperties", "not") and isinstance(value, dict)
        ):
            out[key] = _strict(value)
        elif key in ("description", "x-kubernetes-int-or-string"):
            continue  # int-or-string nodes also carry the anyOf [integer, string] that says it
        else:
            out[key] = value
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def _cel_rules(
    validator: Any, rules: list[dict[str, str]], instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    for rule in rules:
        expression = rule["rule"]
        if "oldSelf" in expression:
            continue  # a transition rule: the API server evaluates it on update only
        try:
            passed = cel.evaluate(expression, {"self": instance})
        except Exception as exc:  # any CEL failure rejects the value
            yield jsonschema.ValidationError(f"CEL rule {expression!r} could not be evaluated offline: {exc}")
            continue
        if passed is not True:
            yield jsonschema.ValidationError(rule.get("message") or f"failed CEL rule {expression!r}")


StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft7Validator, {"x-kubernetes-validations": _cel_rules}
)


@dataclass(frozen=True)
class CrdSchemas:
    """The served versions of the CRDs in one directory: (apiVersion, kind) → validator."""

    release: str
    validators: dict[tuple[str, str], Any]

    def validate(self, doc: Doc) -> None:
        key = (doc.get("apiVersion", ""), doc.get("kind", ""))
        validator = self.validators.get(key)
        if validator is None:
            served = sorted(f"{a} {k}" for a, k in self.validators)
            raise ManifestError(
                f"{describe(doc)}: {key[0]} {key[1]} is not served by {self.release} ({served})"
            )
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]
            raise ManifestError(f"{describe(doc)} against {self.release}: " + "; ".join(lines))
        for version in K8S_VERSIONS:
            validate_object_meta(doc, version)


@cache
def strimzi_schemas() -> CrdSchemas:
    [directory] = sorted((DEPLOY / "crds").glob("strimzi-*"))
    validators: dict[tuple[str, str], Any] = {}
    for path in sorted(directory.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served"):
                continue
            schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
            schema["properties"]["kind"] = {"const": kind}
            schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
            StrictValidator.check_schema(schema)
            validators[(f"{group}/{version['name']}", kind)] = StrictValidator(schema)
    return CrdSchemas(directory.name, validators)


def validate_any(doc: Doc) -> None:
    """A built object against the schema that applies to it (Kubernetes or Strimzi)."""
    if str(doc.get("apiVersion", "")).split("/")[0] == STRIMZI_GROUP:
        strimzi_schemas().validate(doc)
    else:
        for version in K8S_VERSIONS:
            validate_k8s(doc, version)
