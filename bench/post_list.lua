-- wrk script: POST prepared requests from a file, each thread its share, in order, cycling.
--
--   wrk -t2 -c32 -d10s -s bench/post_list.lua URL -- REQUESTS_FILE THREADS
--
-- Each line of REQUESTS_FILE is PATH <TAB> HEADERS <TAB> BODY, HEADERS being "Name: value"
-- pairs separated by the unit separator (\31); the body is one line of JSON. Thread t of
-- THREADS sends lines t, t + THREADS, … At the end one line "BENCH_RESULT {json}" summarises
-- the run as post_run.lua's does (bench/wrk.py reads it).

-- setup(), response() and done() are shared: wrk_summary.lua, beside this script.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "wrk_summary.lua")

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
