-- wrk script for the JSON-RPC load test (scripts/load.sh).
--
--   BODY='{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' \
--     wrk -t2 -c16 -d10s --latency -s scripts/load/rpc.lua http://127.0.0.1:8545
--
-- POSTs the fixed JSON-RPC body from env BODY (content-type application/json)
-- on every request. Every response is checked: a non-2xx status or a body that
-- contains "error" is counted. done() prints, one per line:
--   errors=<n>        bodies containing "error" (2xx status)
--   non2xx=<n>        responses with a status outside 200..299
--   responses=<n>     responses seen by response()
--   socket_errors=<n> connect + read + write + timeout errors
--   first_error=<..>  the first bad response (status and start of the body), if any
-- The caller must fail the run unless errors, non2xx and socket_errors are 0.

local body = os.getenv("BODY")
if body == nil or body == "" then
  error("rpc.lua: env BODY (the JSON-RPC request body) is not set")
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  non2xx = 0
  responses = 0
  first_error = ""
end

function request()
  return wrk.format()
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_error == "" then
      first_error = "HTTP " .. status .. " " .. string.sub(body or "", 1, 300)
    end
  elseif body ~= nil and string.find(body, '"error"', 1, true) then
    errors = errors + 1
    if first_error == "" then
      first_error = "HTTP " .. status .. " " .. string.sub(body, 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local e, n, r, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    e = e + (t:get("errors") or 0)
    n = n + (t:get("non2xx") or 0)
    r = r + (t:get("responses") or 0)
    local f = t:get("first_error") or ""
    if first == "" and f ~= "" then first = f end
  end
  local se = summary.errors
  io.write(string.format("errors=%d\n", e))
  io.write(string.format("non2xx=%d\n", n))
  io.write(string.format("responses=%d\n", r))
  io.write(string.format("socket_errors=%d\n", se.connect + se.read + se.write + se.timeout))
  if first ~= "" then
    io.write("first_error=" .. string.gsub(first, "\n", " ") .. "\n")
  end
end
