-- wrk script: the same POST /v1/search again and again.
-- CHECKIN / CHECKOUT come from the environment (run.sh sets them).
local checkin = os.getenv("CHECKIN")
local checkout = os.getenv("CHECKOUT")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer demo-key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"checkin":"' .. checkin .. '","checkout":"' .. checkout ..
  '","hotels":["ARG-LIS-0001","ARG-LIS-0002","ARG-LIS-0003"],"occupancy":[{"adults":2}],"currency":"EUR"}'
