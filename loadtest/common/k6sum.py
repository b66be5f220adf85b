"""Reads a k6 summary JSON and prints the named values, space-separated.

    python3 k6sum.py SUMMARY 'http_req_duration:med' 'http_req_duration{kind:browse}:p(99)' 'http_reqs:count'

A missing metric prints `n/a`. Durations are in milliseconds, rates as fractions."""
import json
import sys

metrics = json.load(open(sys.argv[1]))["metrics"]
out = []
for spec in sys.argv[2:]:
    name, _, stat = spec.rpartition(":")
    v = metrics.get(name, {}).get("values", {}).get(stat)
    if v is None:
        out.append("n/a")
    elif isinstance(v, float) and not v.is_integer():
        out.append("%.2f" % v if stat not in ("rate",) else "%.4f" % v)
    else:
        out.append(str(int(v)) if stat == "count" else ("%.4f" % v if stat == "rate" else "%.2f" % v))
print(" ".join(out))
