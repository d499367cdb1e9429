-- wrk script: the request comes from the environment (METHOD, BODY, TOKEN),
-- and the summary is printed as one JSON line prefixed with RESULT.
wrk.method = os.getenv("METHOD") or "GET"
local body = os.getenv("BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
-- The run's tag as request id: the service logs it, so the report can split
-- the per-phase timings by scenario and concurrency.
local tag = os.getenv("TAG")
if tag and tag ~= "" then
  wrk.headers["X-Request-ID"] = tag
end
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

done = function(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.2f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"errors":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
