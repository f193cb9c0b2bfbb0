-- wrk script: POST prepared requests from a file, each thread its share, in order, cycling.
--
--   wrk -t2 -c32 -d10s -s bench/post_list.lua URL -- REQUESTS_FILE THREADS
--
-- Each line of REQUESTS_FILE is PATH <TAB> HEADERS <TAB> BODY, HEADERS being "Name: value"
-- pairs separated by the unit separator (\31); the body is one line of JSON. Thread t of
-- THREADS sends lines t, t + THREADS, … At the end one line "BENCH_RESULT {json}" summarises
-- the run as post_run.lua's does (bench/wrk.py reads it).

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_number", thread_count)
   table.insert(threads, thread)
end

function init(args)
   local total = tonumber(args[2])
   local file = assert(io.open(args[1], "rb"), "cannot open requests file " .. tostring(args[1]))
   requests = {}
   local index = 0
   for line in file:lines() do
      if index % total == thread_number - 1 then
         local path, header_text, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
         local headers = { ["Content-Type"] = "application/json" }
         for header in string.gmatch(header_text, "[^\31]+") do
            local name, value = header:match("^([^:]+): (.*)$")
            headers[name] = value
         end
         table.insert(requests, wrk.format("POST", path, headers, body))
      end
      index = index + 1
   end
   file:close()
   assert(#requests > 0, "no requests for thread " .. thread_number)
   position = 0
   non_200 = 0
end

function request()
   position = position % #requests + 1
   return requests[position]
end

function response(status, headers, body)
   if status ~= 200 then
      non_200 = non_200 + 1
   end
end

function done(summary, latency, requests)
   local non_200_total = 0
   for _, thread in ipairs(threads) do
      non_200_total = non_200_total + thread:get("non_200")
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"non_200":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f,"mean":%.1f}}\n',
      summary.requests, summary.duration, non_200_total,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
