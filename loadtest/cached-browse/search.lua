-- wrk: the same POST /v1/search again and again (cache hits after the first).
-- BODY_FILE (run.sh writes it) holds the search body.
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer demo-key"
wrk.headers["Content-Type"] = "application/json"
