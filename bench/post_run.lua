-- wrk script for the cipulse benchmark: POST a RunWatch run with a new run_id every request.
--
--   wrk -t2 -c32 -d10s -s bench/post_run.lua URL -- BODY_FILE API_KEY SERIES
--
-- BODY_FILE holds the JSON body with the placeholder "__RUN_ID__" (quotes included) where
-- the run id goes. Run ids are SERIES * 1e12 + thread * 1e9 + n (n counts this thread's
-- requests), so threads never collide, and neither do two wrk invocations against the same
-- database as long as each gets its own SERIES.
-- At the end one line "BENCH_RESULT {json}" summarises the run for bench/run.py; latencies
-- are in microseconds, non_200 counts every response whose status is not 200.

local PLACEHOLDER = '"__RUN_ID__"'

-- setup(), response() and done() are shared: wrk_summary.lua, beside this script.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "wrk_summary.lua")

local function read_file(path)
   local file = assert(io.open(path, "rb"), "cannot open body file " .. tostring(path))
   local text = file:read("*a")
   file:close()
   return text
end

function init(args)
   local template = read_file(args[1])
   local at = string.find(template, PLACEHOLDER, 1, true)
   assert(at, "body file has no " .. PLACEHOLDER)
   body_prefix = string.sub(template, 1, at - 1)
   body_suffix = string.sub(template, at + #PLACEHOLDER)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["X-API-Key"] = args[2]
   run_id_base = (tonumber(args[3] or "0") * 1000 + thread_number) * 1000000000
   sent = 0
   non_200 = 0
end

function request()
   sent = sent + 1
   local body = body_prefix .. string.format("%.0f", run_id_base + sent) .. body_suffix
   return wrk.format(nil, nil, nil, body)
end
