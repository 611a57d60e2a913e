-- wrk script for Tools/load_test.sh: alternates generate and caption requests (caption of a motion the
-- server generated before the run, read from $CAPTION_BODY), counts answers by status per thread, and
-- prints the totals and latency percentiles as one JSON line at the end.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  n = 0
  local f = assert(io.open(os.getenv("CAPTION_BODY"), "r"))
  caption_body = f:read("*a")
  f:close()
  generate_body = '{"text": "a person walks forward and turns around", "seconds": 3, "max_tokens": 24}'
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format("POST", "/v1/caption", headers, caption_body)
  end
  return wrk.format("POST", "/v1/generate", headers, generate_body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%d": %d', k, v)) end
  local e = summary.errors
  io.write(string.format('LOADRESULT {"requests": %d, "seconds": %.2f, "statuses": {%s}, "p50_ms": %.1f, "p90_ms": %.1f, "p99_ms": %.1f, "max_ms": %.1f, '
    .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, table.concat(parts, ", "), latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.connect, e.read, e.write, e.status, e.timeout))
end
