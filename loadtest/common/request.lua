-- wrk: one request shape from the environment. METHOD (default GET), BODY_FILE (optional),
-- HEADERS ("Name: value|Name: value"), AUTH (bearer key; "none" for none; default demo-key).
wrk.method = os.getenv("METHOD") or "GET"
local body_file = os.getenv("BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "r"))
  wrk.body = f:read("*a")
  f:close()
end
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("AUTH") or "demo-key"
if auth ~= "none" then wrk.headers["Authorization"] = "Bearer " .. auth end
for pair in string.gmatch(os.getenv("HEADERS") or "", "[^|]+") do
  local name, value = string.match(pair, "^%s*([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end
