"""A small, strict validator for Kubernetes objects against published OpenAPI v3 schemas.

Built-in kinds are looked up by x-kubernetes-group-version-kind in the apiserver's OpenAPI v3
documents; custom resources by their CRD's openAPIV3Schema. Strict like `kubectl --validate=strict`:
a field the schema does not declare is an error, unless the schema says additionalProperties or
x-kubernetes-preserve-unknown-fields. Checks $ref, allOf/anyOf/oneOf, type (int-or-string included),
required, enum, nullable, pattern, min/max, lengths and item counts.
"""

import glob
import json
import os
import re

import yaml

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Enums the apiserver enforces that the published v3 documents state only in prose.
_PROSE_ENUMS = {
    ("io.k8s.api.core.v1.Container", "imagePullPolicy"): ["Always", "IfNotPresent", "Never"],
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): ["TCP", "UDP", "SCTP"],
    ("io.k8s.api.core.v1.ServicePort", "protocol"): ["TCP", "UDP", "SCTP"],
    ("io.k8s.api.apps.v1.DaemonSetUpdateStrategy", "type"): ["RollingUpdate", "OnDelete"],
    ("io.k8s.api.core.v1.HostPathVolumeSource", "type"): [
        "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
        "BlockDevice"],
    ("io.k8s.api.core.v1.Toleration", "operator"): ["Exists", "Equal", "Lt", "Gt"],
    ("io.k8s.api.core.v1.Toleration", "effect"): ["NoSchedule", "PreferNoSchedule", "NoExecute"],
    ("io.k8s.api.core.v1.SeccompProfile", "type"): ["RuntimeDefault", "Unconfined", "Localhost"],
}
# Every custom resource may carry these at its root whatever its schema says.
_CR_ROOT = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}


class ValidationError(Exception):
    pass


class Validator:
    def __init__(self, specs_dir):
        self._schemas = {}
        self._kinds = {}  # (group, version, kind) -> (schema, is_crd)
        for path in sorted(glob.glob(os.path.join(specs_dir, "kubernetes", "*.json"))):
            with open(path) as f:
                self._schemas.update(json.load(f)["components"]["schemas"])
        for (name, field), values in _PROSE_ENUMS.items():
            self._schemas[name]["properties"][field] = dict(
                self._schemas[name]["properties"][field], enum=values)
        for schema in self._schemas.values():
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                self._kinds[(gvk["group"], gvk["version"], gvk["kind"])] = (schema, False)
        if not self._kinds:
            raise ValidationError(f"no Kubernetes OpenAPI schemas under {specs_dir}/kubernetes")

    def add_crd(self, crd):
        """Makes the custom resource kinds a CustomResourceDefinition declares known."""
        self.validate(crd)
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            self._kinds[(spec["group"], version["name"], spec["names"]["kind"])] = (schema, True)

    def add_crd_files(self, pattern):
        for path in sorted(glob.glob(pattern)):
            for doc in load_documents(path):
                self.add_crd(doc)

    def validate(self, obj):
        """Raises ValidationError naming the path of the first problem in obj."""
        if not isinstance(obj, dict):
            raise ValidationError("object is not a mapping")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            raise ValidationError("apiVersion and kind are required strings")
        group, _, version = api_version.rpartition("/")
        known = self._kinds.get((group, version, kind))
        if known is None:
            raise ValidationError(f"unknown kind {api_version} {kind}")
        schema, is_crd = known
        if not isinstance(obj.get("metadata"), dict):
            raise ValidationError(f"{kind}: metadata is required")
        self._check(obj["metadata"], self._schemas[_OBJECT_META], f"{kind}.metadata", False)
        rest = {k: v for k, v in obj.items() if k != "metadata"}
        rest_schema = dict(schema)
        rest_schema["properties"] = dict(_CR_ROOT) if is_crd else {}
        rest_schema["properties"].update(
            {k: v for k, v in schema.get("properties", {}).items() if k != "metadata"})
        self._check(rest, rest_schema, kind, is_crd)

    def _resolve(self, schema):
        while "$ref" in schema:
            ref = schema["$ref"]
            prefix = "#/components/schemas/"
            if not ref.startswith(prefix) or ref[len(prefix):] not in self._schemas:
                raise ValidationError(f"unresolvable $ref {ref}")
            schema = self._schemas[ref[len(prefix):]]
        return schema

    def _check(self, value, schema, path, crd):
        schema = self._resolve(schema)
        for sub in schema.get("allOf", []):
            self._check(value, sub, path, crd)
        if value is None:
            if schema.get("nullable"):
                return
            raise ValidationError(f"{path}: null is not allowed")
        self._check_alternatives(value, schema, path, crd)
        self._check_type(value, schema, path)
        if "enum" in schema and value not in schema["enum"]:
            raise ValidationError(f"{path}: {value!r} is not one of {schema['enum']}")
        if isinstance(value, dict):
            self._check_object(value, schema, path, crd)
        elif isinstance(value, list):
            self._check_array(value, schema, path, crd)
        elif isinstance(value, str):
            self._check_string(value, schema, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._check_number(value, schema, path)

    def _check_alternatives(self, value, schema, path, crd):
        for keyword, wanted in (("anyOf", lambda n: n >= 1), ("oneOf", lambda n: n == 1)):
            if keyword not in schema:
                continue
            passed = 0
            for sub in schema[keyword]:
                try:
                    self._check(value, sub, path, crd)
                    passed += 1
                except ValidationError:
                    pass
            if not wanted(passed):
                raise ValidationError(f"{path}: {value!r} matches {passed} {keyword} schemas")

    def _check_type(self, value, schema, path):
        wanted = schema.get("type")
        if schema.get("x-kubernetes-int-or-string") or schema.get("format") == "int-or-string":
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValidationError(f"{path}: want an integer or a string, got {value!r}")
            return
        if wanted is None:
            return
        ok = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        }[wanted](value)
        if not ok:
            raise ValidationError(f"{path}: want {wanted}, got {type(value).__name__} {value!r}")

    def _check_object(self, value, schema, path, crd):
        for name in schema.get("required", []):
            if name not in value:
                raise ValidationError(f"{path}: missing required field {name!r}")
        properties = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        # A built-in schema with neither properties nor additionalProperties is opaque (FieldsV1,
        # RawExtension); in a CRD it is pruned by the apiserver, so unknown fields there are errors.
        opaque = not crd and not properties and additional is None
        for key, item in value.items():
            if key in properties:
                self._check(item, properties[key], f"{path}.{key}", crd)
            elif isinstance(additional, dict):
                self._check(item, additional, f"{path}.{key}", crd)
            elif not (additional is True or preserve or opaque):
                raise ValidationError(f"{path}: unknown field {key!r}")
        self._check_counts(len(value), schema, "Properties", path)

    def _check_array(self, value, schema, path, crd):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                self._check(item, items, f"{path}[{i}]", crd)
        self._check_counts(len(value), schema, "Items", path)

    def _check_string(self, value, schema, path):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise ValidationError(f"{path}: {value!r} does not match {schema['pattern']}")
        self._check_counts(len(value), schema, "Length", path)
        if schema.get("format") == "date-time" and not re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
            raise ValidationError(f"{path}: {value!r} is not an RFC 3339 date-time")

    def _check_number(self, value, schema, path):
        if "minimum" in schema and value < schema["minimum"]:
            raise ValidationError(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ValidationError(f"{path}: {value} is above the maximum {schema['maximum']}")

    @staticmethod
    def _check_counts(count, schema, what, path):
        low, high = schema.get("min" + what), schema.get("max" + what)
        if low is not None and count < low:
            raise ValidationError(f"{path}: {count} {what.lower()}, at least {low} wanted")
        if high is not None and count > high:
            raise ValidationError(f"{path}: {count} {what.lower()}, at most {high} allowed")


def load_documents(path_or_text, is_text=False):
    """Every non-empty YAML document of a file (or of text)."""
    if is_text:
        docs = yaml.safe_load_all(path_or_text)
    else:
        with open(path_or_text) as f:
            docs = list(yaml.safe_load_all(f))
    return [d for d in docs if d]
