-- wrk: searches that are always cold — a random hotel trio and a random stay 10 to 340
-- days ahead, so (almost) every request misses the cache and fans out to every supplier.
local dests = {"LIS", "BCN", "PAR", "ROM", "BER", "AMS", "LON", "NYC"}
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer demo-key"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local d = dests[math.random(#dests)]
  local ids = {}
  for i = 1, 3 do ids[i] = string.format('"ARG-%s-%04d"', d, math.random(38)) end
  local day = math.random(10, 340)
  local checkin = os.date("!%Y-%m-%d", os.time() + day * 86400)
  local checkout = os.date("!%Y-%m-%d", os.time() + (day + 2) * 86400)
  local body = '{"checkin":"' .. checkin .. '","checkout":"' .. checkout .. '","hotels":[' ..
    table.concat(ids, ",") .. '],"occupancy":[{"adults":2}],"currency":"EUR"}'
  return wrk.format("POST", "/v1/search", wrk.headers, body)
end
