-- wrk script: POST a JSON body from a file with an Authorization header, count
-- every non-2xx response as an error, and print one machine-readable line.
--
-- usage: wrk -t1 -c50 -d10s --latency -s bench/chat.lua URL -- BODY_FILE [BEARER_KEY]
--
-- The last line printed is:
--   BENCH {"requests":N,"ok":N,"non2xx":N,"connect":N,"read":N,"write":N,
--          "timeout":N,"duration_us":N,"p50_us":N,"p90_us":N,"p99_us":N,
--          "max_us":N,"mean_us":N}
-- Latencies are wrk's (microseconds, all responses, no coordinated-omission
-- correction: wrk is closed-loop, one request in flight per connection).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   local f = assert(io.open(path, "rb"), "cannot open body file " .. tostring(path))
   local body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
   if args[2] and args[2] ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. args[2]
   end
   non2xx = 0
   first_bad = ""
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_bad == "" then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

local function esc(s)
   s = string.gsub(s, "\\", "\\\\")
   s = string.gsub(s, "\"", "\\\"")
   s = string.gsub(s, "[%c]", " ")
   return s
end

function done(summary, latency, requests)
   local bad = 0
   local sample = ""
   for _, t in ipairs(threads) do
      bad = bad + (t:get("non2xx") or 0)
      local fb = t:get("first_bad")
      if sample == "" and fb and fb ~= "" then
         sample = fb
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"ok":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"timeout":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"mean_us":%.1f,"first_bad":"%s"}\n',
      summary.requests, summary.requests - bad, bad, e.connect, e.read, e.write,
      e.timeout, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, esc(sample)))
end
