"""Server-side validation the stand-in apiserver applies, modelled on kube-apiserver.

- Custom resources: structural-schema pruning and validation against a CRD's openAPIV3Schema
  (apiextensions-apiserver: unknown fields are pruned, or rejected under fieldValidation=Strict).
- events.k8s.io/v1 Events: ValidateEventCreate / ValidateEventUpdate from
  kubernetes/pkg/apis/core/validation/events.go, with the v1 field names.
Each check returns a list of causes: {"reason", "message", "field"} as in a 422 Status.
"""

import copy
import datetime
import re

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TYPE_OF = {"string": str, "boolean": bool, "object": dict, "array": list}


def cause(reason, field, message):
    return {"reason": reason, "field": field, "message": message}


def required(field):
    return cause("FieldValueRequired", field, "Required value")


def invalid(field, value, detail):
    return cause("FieldValueInvalid", field, f"Invalid value: {_quote(value)}: {detail}")


def too_long(field, limit):
    return cause("FieldValueTooLong", field, f"Too long: may not be more than {limit} bytes")


def _quote(value):
    return f'"{value}"' if isinstance(value, str) else str(value)


def _type_matches(type_name, value):
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPE_OF.get(type_name, object))


class SchemaChecker:
    """Prunes unknown fields and validates one object against a structural schema."""

    def __init__(self, strict):
        self.strict = strict
        self.causes = []
        self.unknown = []

    def check(self, schema, value, path):
        if value is None:
            if not schema.get("nullable"):
                self.causes.append(invalid(path, "null", f"{path} in body must be of type "
                                           f"{schema.get('type', 'object')}: \"null\""))
            return value
        if not self._check_type(schema, value, path):
            return value
        self._check_scalar(schema, value, path)
        if isinstance(value, dict):
            return self._check_object(schema, value, path)
        if isinstance(value, list) and "items" in schema:
            return [self.check(schema["items"], v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def _check_type(self, schema, value, path):
        type_name = schema.get("type")
        if schema.get("x-kubernetes-int-or-string"):
            ok = isinstance(value, str) or _type_matches("integer", value)
            type_name = "integer,string"
        else:
            ok = type_name is None or _type_matches(type_name, value)
        if not ok:
            got = type(value).__name__.replace("str", "string").replace("dict", "object")
            self.causes.append(cause("FieldValueTypeMismatch", path,
                                     f"Invalid value: \"{got}\": {path} in body must be of type "
                                     f"{type_name}: \"{got}\""))
        return ok

    def _check_scalar(self, schema, value, path):
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(_quote(v) for v in schema["enum"])
            self.causes.append(cause("FieldValueNotSupported", path, f"Unsupported value: "
                                     f"{_quote(value)}: supported values: {allowed}"))
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                self.causes.append(too_long(path, schema["maxLength"]))
            if "minLength" in schema and len(value) < schema["minLength"]:
                self.causes.append(invalid(path, value, f"{path} in body should be at least "
                                           f"{schema['minLength']} chars long"))
            if "pattern" in schema and not re.search(schema["pattern"], value):
                self.causes.append(invalid(path, value, f"{path} in body should match "
                                           f"'{schema['pattern']}'"))
            if schema.get("format") == "date-time" and not _is_datetime(value):
                self.causes.append(invalid(path, value, f"{path} in body must be of type "
                                           "date-time"))
        if _type_matches("number", value):
            if "minimum" in schema and value < schema["minimum"]:
                self.causes.append(invalid(path, value, f"{path} in body should be greater than "
                                           f"or equal to {schema['minimum']}"))
            if "maximum" in schema and value > schema["maximum"]:
                self.causes.append(invalid(path, value, f"{path} in body should be less than "
                                           f"or equal to {schema['maximum']}"))
        if isinstance(value, list) and "maxItems" in schema and len(value) > schema["maxItems"]:
            self.causes.append(cause("FieldValueTooMany", path,
                                     f"Too many: {len(value)}: must have at most "
                                     f"{schema['maxItems']} items"))

    def _check_object(self, schema, value, path):
        props = schema.get("properties", {})
        # As apiextensions-apiserver does before validating: nulls in non-nullable fields are
        # pruned, then defaults fill what is missing.
        value = {k: v for k, v in value.items()
                 if v is not None or k not in props or props[k].get("nullable")}
        for key, prop in props.items():
            if key not in value and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
        for name in schema.get("required", []):
            if name not in value:
                self.causes.append(required(f"{path}.{name}" if path else name))
        extra = schema.get("additionalProperties")
        keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") or extra is True
        out = {}
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else key
            if key in props:
                out[key] = self.check(props[key], child, child_path)
            elif isinstance(extra, dict):
                out[key] = self.check(extra, child, child_path)
            elif keep_unknown:
                out[key] = child
            elif self.strict:
                self.unknown.append(child_path)
        return out


def _is_datetime(text):
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def check_custom_resource(schema, obj, strict):
    """Returns (pruned object, causes, unknown fields; these are only collected when strict).
    metadata, apiVersion and kind are never pruned."""
    checker = SchemaChecker(strict)
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    root = dict(schema)
    root["properties"] = {k: v for k, v in schema.get("properties", {}).items()
                          if k not in ("apiVersion", "kind", "metadata")}
    root["required"] = [r for r in schema.get("required", []) if r != "metadata"]
    pruned = checker.check(root, body, "")
    result = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    result.update(pruned)
    return result, checker.causes, checker.unknown


def _check_length(event, field, limit, causes):
    value = event.get(field) or ""
    if not value:
        causes.append(required(field))
    elif len(value.encode()) > limit:
        causes.append(too_long(field, limit))


def check_event_create(event):
    """events.k8s.io/v1 rules that kube-apiserver enforces on create."""
    causes = []
    if not event.get("eventTime"):
        causes.append(required("eventTime"))
    series = event.get("series")
    if series is not None:
        if (series.get("count") or 0) < 2:
            causes.append(invalid("series.count", series.get("count", 0), "should be at least 2"))
        if not series.get("lastObservedTime"):
            causes.append(required("series.lastObservedTime"))
    controller = event.get("reportingController") or ""
    _check_length(event, "reportingController", 128, causes)
    if controller and not _is_qualified_name(controller):
        causes.append(invalid("reportingController", controller,
                              "name part must consist of alphanumeric characters, '-', '_' or '.'"))
    for field in ("reportingInstance", "action", "reason"):
        _check_length(event, field, 128, causes)
    if len((event.get("note") or "").encode()) > 1024:
        causes.append(too_long("note", 1024))
    if event.get("type") not in ("Normal", "Warning"):
        causes.append(cause("FieldValueNotSupported", "type",
                            f"Unsupported value: {_quote(event.get('type', ''))}: "
                            'supported values: "Normal", "Warning"'))
    causes.extend(_check_regarding(event))
    return causes


def _check_regarding(event):
    regarding = event.get("regarding")
    if not regarding:
        return [required("regarding")]
    namespace = event.get("metadata", {}).get("namespace", "")
    if regarding.get("namespace") and regarding["namespace"] != namespace:
        return [invalid("regarding.namespace", regarding["namespace"],
                        "does not match event.namespace")]
    return []


_IMMUTABLE_EVENT_FIELDS = ("regarding", "related", "reason", "note", "type", "action",
                           "reportingController", "reportingInstance", "eventTime")


def check_event_update(new, old):
    """Updates may change series (and metadata) only; everything else must still be valid."""
    causes = check_event_create(new)
    for field in _IMMUTABLE_EVENT_FIELDS:
        if new.get(field) != old.get(field):
            causes.append(invalid(field, new.get(field), "field is immutable"))
    return causes


def _is_qualified_name(name):
    prefix, _, local = name.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(local) <= 63 and bool(_QUALIFIED_NAME.match(local))


def check_object_name(name):
    if not name:
        return [cause("FieldValueRequired", "metadata.name",
                      "Required value: name or generateName is required")]
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        return [invalid("metadata.name", name, "a lowercase RFC 1123 subdomain must consist of "
                        "lower case alphanumeric characters, '-' or '.', and must start and end "
                        "with an alphanumeric character")]
    return []
