-- wrk script: authenticated POST of a new activity (TANDEM_TOKEN from the environment).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TANDEM_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"subject":"Created by wrk","location":"Bench","start":"2027-06-01T09:00:00Z",' ..
           '"end":"2027-06-01T09:30:00Z","reminder_minutes":10}'
