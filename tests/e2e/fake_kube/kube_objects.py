"""Pure helpers for the stand-in apiserver: selectors, patches, tables, status objects."""

import copy
import datetime
import re


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_object(code, reason, message, details=None):
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": message, "reason": reason, "code": code}
    if details:
        status["details"] = details
    return status


# --- selectors --------------------------------------------------------------------------------

_TERM_SPLIT = re.compile(r",(?![^()]*\))")
_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _label_term(term):
    set_match = _SET_TERM.match(term)
    if set_match:
        key, op, values = set_match.groups()
        allowed = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (part.strip() for part in term.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    term = term.strip()
    if term.startswith("!"):
        return lambda labels: term[1:] not in labels
    return lambda labels: term in labels


def label_matcher(selector):
    terms = [_label_term(t) for t in _TERM_SPLIT.split(selector or "") if t.strip()]
    return lambda obj: all(t(obj.get("metadata", {}).get("labels") or {}) for t in terms)


def lookup(obj, dotted):
    """Follows a path like `spec.nodeName` or `.metadata.ownerReferences[0].name`."""
    value = obj
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", dotted.strip().lstrip(".")):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def field_matcher(selector):
    terms = []
    for term in (t for t in (selector or "").split(",") if t.strip()):
        negate = "!=" in term
        key, value = re.split(r"!=|==|=", term, maxsplit=1)
        terms.append((key.strip(), value.strip(), negate))

    def match(obj):
        for key, value, negate in terms:
            actual = lookup(obj, key)
            actual = "" if actual is None else str(actual)
            if (actual == value) == negate:
                return False
        return True
    return match


def core_event(event):
    """events.k8s.io/v1 Event as the core/v1 Event the apiserver serves for the same object."""
    series = event.get("series")
    core = {"apiVersion": "v1", "kind": "Event", "metadata": event["metadata"],
            "involvedObject": event.get("regarding", {}), "reason": event.get("reason", ""),
            "message": event.get("note", ""), "type": event.get("type", ""),
            "eventTime": event.get("eventTime"), "action": event.get("action", ""),
            "reportingComponent": event.get("reportingController", ""),
            "reportingInstance": event.get("reportingInstance", ""),
            "source": event.get("deprecatedSource", {}),
            "firstTimestamp": event.get("deprecatedFirstTimestamp"),
            "lastTimestamp": event.get("deprecatedLastTimestamp"),
            "count": event.get("deprecatedCount", 0)}
    if event.get("related"):
        core["related"] = event["related"]
    if series:
        core["series"] = {"count": series.get("count"),
                          "lastObservedTime": series.get("lastObservedTime")}
    return core


# --- patches ----------------------------------------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target, patch):
    """Strategic merge patch, simplified: lists of objects that all carry `name` merge by name
    (containers, env, volumes, ...); other lists are replaced; `$` directives are honoured for
    `$patch: delete|replace` and otherwise dropped."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if not k.startswith("$")}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and _named_list(value) and _named_list(result.get(key)):
            result[key] = _merge_named_list(result[key], value)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _named_list(items):
    return isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)


def _merge_named_list(current, patch):
    merged = {item["name"]: item for item in copy.deepcopy(current)}
    order = [item["name"] for item in current]
    for item in patch:
        if item.get("$patch") == "delete":
            merged.pop(item["name"], None)
            continue
        if item["name"] not in merged:
            order.append(item["name"])
        merged[item["name"]] = strategic_merge_patch(merged.get(item["name"]), item)
    return [merged[name] for name in order if name in merged]


# --- tables -----------------------------------------------------------------------------------

def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    seconds = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days < 365 * 8 else f"{days // 365}y"


def age(timestamp):
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds())


def column(name, type_name="string", priority=0, fmt=""):
    return {"name": name, "type": type_name, "format": fmt, "description": "", "priority": priority}


NAME_AGE_COLUMNS = [column("Name", fmt="name"), column("Age", "date")]


def name_age_cells(obj):
    meta = obj.get("metadata", {})
    return [meta.get("name", ""), age(meta.get("creationTimestamp"))]


NAMESPACE_COLUMNS = [column("Name", fmt="name"), column("Status"), column("Age", "date")]


def namespace_cells(namespace):
    return [namespace["metadata"]["name"], namespace.get("status", {}).get("phase", ""),
            age(namespace["metadata"].get("creationTimestamp"))]


POD_COLUMNS = [column("Name", fmt="name"), column("Ready"), column("Status"),
               column("Restarts", "string"), column("Age", "date"), column("IP", priority=1),
               column("Node", priority=1)]


def pod_cells(pod):
    status = pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or []) or len(statuses)
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    phase = status.get("phase", "Pending")
    if pod.get("metadata", {}).get("deletionTimestamp"):
        phase = "Terminating"
    return [pod["metadata"]["name"], f"{ready}/{total}", phase, str(restarts),
            age(pod["metadata"].get("creationTimestamp")), status.get("podIP", "<none>"),
            pod.get("spec", {}).get("nodeName", "<none>")]


EVENT_COLUMNS = [column("Last Seen"), column("Type"), column("Reason"), column("Object"),
                 column("Message")]


def event_cells(event):
    regarding = event.get("regarding") or event.get("involvedObject") or {}
    last = (event.get("series") or {}).get("lastObservedTime") or event.get("eventTime") \
        or event.get("lastTimestamp")
    return [age(last), event.get("type", ""), event.get("reason", ""),
            f"{regarding.get('kind', '').lower()}/{regarding.get('name', '')}",
            event.get("note", event.get("message", ""))]


def crd_columns(printer_columns):
    return [column("Name", fmt="name")] + [
        column(c["name"], c.get("type", "string"), c.get("priority", 0), c.get("format", ""))
        for c in printer_columns]


def crd_cells(printer_columns, obj):
    cells = [obj["metadata"]["name"]]
    for c in printer_columns:
        value = lookup(obj, c["jsonPath"])
        if value is None:
            cells.append(None)
        elif c.get("type") == "date":
            cells.append(age(value))
        else:
            cells.append(value)
    return cells


def table(columns, cells_fn, objects, resource_version):
    rows = [{"cells": cells_fn(obj),
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": obj.get("metadata", {})}} for obj in objects]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": columns, "rows": rows}
