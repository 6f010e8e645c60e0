-- wrk: POST a run of the three-step chain.
wrk.method = "POST"
wrk.body = '{"start_event": {"input": 1}}'
wrk.headers["Content-Type"] = "application/json"
