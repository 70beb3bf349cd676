-- wrk script for `scripts/bench throughput`: POSTs bench runs until RUNS have been sent in total (across threads),
-- then stops. Environment: BENCH_TOKEN, BENCH_RUNS, BENCH_THREADS, BENCH_STAGES, BENCH_DONE_DIR (each thread
-- that has its answers leaves a file there, so the script knows when to stop wrk without asking the server).
local token = os.getenv("BENCH_TOKEN")
local per_thread = math.ceil(tonumber(os.getenv("BENCH_RUNS")) / tonumber(os.getenv("BENCH_THREADS")))
local stages = os.getenv("BENCH_STAGES") or "5"
local sent, answered, failed = 0, 0, 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

wrk.method = "POST"
wrk.path = "/api/agent/runs"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"message":"bench","pipeline":"bench","parameters":{"stages":' .. stages .. ',"stage_ms":0}}'

function request()
  sent = sent + 1
  return wrk.format()
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 202 then failed = failed + 1 end
  if answered == per_thread then
    local marker = io.open(os.getenv("BENCH_DONE_DIR") .. "/thread-" .. id, "w")
    if marker then marker:close() end
    wrk.thread:stop()
  end
end
