-- wrk script: 50 clients mixing searches and exception group listings (benches/serve_load.sh).
local paths = {
  "/api/search?q=timeout&limit=50",
  "/api/search?q=%22cache%20hit%20ratio%22&limit=50",
  "/api/search?q=NullPointer&app=billing&limit=50",
  "/api/search?q=request&from=2024-03-02&to=2024-03-03&limit=50",
  "/api/exceptions?limit=50",
  "/api/exceptions?app=billing&limit=50",
  "/api/search?q=sess*&level=info&limit=50",
  "/api/histogram?q=timeout",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("requests %d in %.1f s (%.0f/s); errors: non-2xx %d, connect %d, read %d, write %d, timeout %d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.status, e.connect, e.read, e.write, e.timeout))
  for _, p in ipairs({ 50, 90, 99 }) do
    io.write(string.format("p%d %.1f ms\n", p, latency:percentile(p) / 1000))
  end
end
