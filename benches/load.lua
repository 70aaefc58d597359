-- wrk script for benches/load.sh: clients replaying the web UI's requests. A search view
-- asks search + histogram + fields for its query; the exception list comes in its three
-- sorts and for one app; a group page asks the group and its history. Queries and groups
-- vary (LOAD_WORDS, LOAD_GROUPS from the script), so only part of the requests are the same
-- at the same moment, as when a team looks at one incident.
local function split(s)
  local out = {}
  for item in string.gmatch(s or "", "[^,]+") do table.insert(out, item) end
  return out
end

local words = split(os.getenv("LOAD_WORDS"))
local groups = split(os.getenv("LOAD_GROUPS"))
local apps = split(os.getenv("LOAD_APPS"))
local paths = {}
for i, w in ipairs(words) do
  local q = "q=" .. w
  table.insert(paths, "/api/search?" .. q .. "&limit=50")
  table.insert(paths, "/api/histogram?" .. q)
  table.insert(paths, "/api/fields?" .. q)
  -- every third word's view also opens the exception list
  if i % 3 == 0 then table.insert(paths, "/api/exceptions?limit=100&sort=count&status=unresolved") end
end
for _, sort in ipairs({ "last_seen", "first_seen" }) do
  table.insert(paths, "/api/exceptions?limit=100&status=unresolved&sort=" .. sort)
end
for _, app in ipairs(apps) do
  table.insert(paths, "/api/exceptions?limit=100&status=unresolved&sort=count&app=" .. app)
  table.insert(paths, "/api/search?q=&app=" .. app .. "&level=ERROR&limit=50")
end
for _, fp in ipairs(groups) do
  table.insert(paths, "/api/exceptions/" .. fp)
  table.insert(paths, "/api/exceptions/" .. fp .. "/history")
end

local counter = 0
setup = function(thread)
  thread:set("offset", counter)
  counter = counter + 17
end

local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[((i + offset) % #paths) + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("distinct requests %d\n", #paths))
  io.write(string.format("requests %d in %.1f s (%.0f/s); errors: non-2xx %d, connect %d, read %d, write %d, timeout %d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.status, e.connect, e.read, e.write, e.timeout))
  for _, p in ipairs({ 50, 90, 99 }) do
    io.write(string.format("p%d %.1f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("max %.1f ms\n", latency.max / 1000))
end
