-- wrk script of benches/load.sh: the requests come from the environment, and the run ends
-- with one machine-readable line.
--   LOAD_PATHS   request paths separated by '|', sent in turn (each wrk thread cycles them)
--   LOAD_METHOD  GET (default) or POST
--   LOAD_BODY    the JSON body of a POST
-- The last line printed is
--   RESULT requests seconds p50_ms p99_ms socket_errors non_2xx

local paths = {}
for path in string.gmatch(os.getenv("LOAD_PATHS") or "/health", "[^|]+") do
  paths[#paths + 1] = path
end
local method = os.getenv("LOAD_METHOD") or "GET"
local body = os.getenv("LOAD_BODY")
local headers = {}
if body ~= nil and body ~= "" then
  headers["Content-Type"] = "application/json"
else
  body = nil
end

local next_path = 0

function request()
  next_path = next_path % #paths + 1
  return wrk.format(method, paths[next_path], headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d %d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
