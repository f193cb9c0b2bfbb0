-- The part of the cipulse benchmarks' wrk scripts they share (loaded with dofile by
-- post_run.lua and post_list.lua): numbering threads, counting non-200 responses, and one
-- line "BENCH_RESULT {json}" at the end that bench/wrk.py reads (latencies in microseconds).

threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_number", thread_count)
   table.insert(threads, thread)
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
