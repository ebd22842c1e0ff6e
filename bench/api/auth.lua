-- wrk script: authenticated GET of the URL given on the command line.
-- The bearer token comes from the environment (TANDEM_TOKEN).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TANDEM_TOKEN")
