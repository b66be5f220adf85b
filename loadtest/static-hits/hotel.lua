-- wrk: GET /v1/hotels/{id} for one hotel, again and again (static content, cached for hours).
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer demo-key"
