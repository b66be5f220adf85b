-- wrk: POST /v1/availability re-checking one offer again and again (never cached: every request
-- goes to the supplier). BODY_FILE (run.sh writes it) holds {"offer_id": "..."}.
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer demo-key"
wrk.headers["Content-Type"] = "application/json"
