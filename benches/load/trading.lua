-- A trading mix for wrk against `marketsim serve --scenario live.toml`:
-- many users (keys in $KEYS_FILE) trade against the market makers' quotes
-- and against each other's resting orders.
--
--   15% market orders, 1-3 shares (buys 55%, sells 45%, so holdings grow)
--    6% marketable limit orders (3% through the reference price)
--   49% passive limit buys (5-10% below: they rest, and get cancelled)
--   10% cancels of this thread's oldest resting order
--   20% reads: GET /v1/orders?limit=20, /v1/portfolio, /v1/stocks
-- so about 30% of orders cross and trade.
--
-- done() prints orders/s, reads/s and the latency percentiles of all
-- requests; run.sh adds trades/s from /metrics.
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do keys[#keys + 1] = line end
local symbols = { "ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI" }
local prices = { ACME = 100.00, GLOBEX = 42.50, INITECH = 12.00, UMBRELLA = 250.00, HOOLI = 67.00 }
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

-- Globals: done() reads them from each thread with thread:get.
n, orders, cancels, reads, created, refused, other = 0, 0, 0, 0, 0, 0, 0
local resting = {} -- queue of { id, key }
local head = 1

local function price(p)
  return string.format("%.2f", p)
end

local function order(key, body)
  orders = orders + 1
  return wrk.format("POST", "/v1/orders",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end

request = function()
  n = n + 1
  local k = (n % #keys) + 1
  local key = keys[k]
  local sym = symbols[(math.floor(n / #keys) % #symbols) + 1]
  local side = (math.random() < 0.55) and "buy" or "sell"
  local r = math.random(100)
  if r <= 15 then
    return order(key, string.format(
      '{"symbol":"%s","side":"%s","type":"market","quantity":%d}', sym, side, math.random(3)))
  elseif r <= 21 then
    local p = prices[sym] * ((side == "buy") and 1.03 or 0.97)
    return order(key, string.format(
      '{"symbol":"%s","side":"%s","type":"limit","quantity":%d,"limit_price":"%s","time_in_force":"gtc"}',
      sym, side, math.random(3), price(p)))
  elseif r <= 70 then
    -- Passive buys rest below the market (the client order id names the
    -- key, so the response tells whose order it is).
    local away = 0.05 + 0.05 * math.random()
    return order(key, string.format(
      '{"symbol":"%s","side":"buy","type":"limit","quantity":%d,"limit_price":"%s","time_in_force":"gtc","client_order_id":"k%d-%d"}',
      sym, math.random(5), price(prices[sym] * (1 - away)), k, n))
  elseif r <= 80 and head <= #resting then
    local o = resting[head]
    resting[head] = nil
    head = head + 1
    cancels = cancels + 1
    return wrk.format("DELETE", "/v1/orders/" .. o.id, { ["Authorization"] = "Bearer " .. o.key })
  else
    reads = reads + 1
    local paths = { "/v1/orders?limit=20", "/v1/portfolio", "/v1/stocks" }
    return wrk.format("GET", paths[math.random(3)], { ["Authorization"] = "Bearer " .. key })
  end
end

response = function(status, headers, body)
  if status == 201 then
    created = created + 1
    -- A passive order that rests can be cancelled later.
    if body:find('"status":"accepted"', 1, true) then
      local id = body:match('"id":(%d+)')
      local k = body:match('"client_order_id":"k(%d+)%-')
      if id and k then
        resting[#resting + 1] = { id = id, key = keys[tonumber(k)] }
      end
    end
  elseif status == 422 then
    refused = refused + 1
  elseif status ~= 200 then
    other = other + 1
    if other <= 5 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
end

done = function(summary, latency, requests)
  local o, c, rd, cr, rf, ot = 0, 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("orders"); c = c + t:get("cancels"); rd = rd + t:get("reads")
    cr = cr + t:get("created"); rf = rf + t:get("refused"); ot = ot + t:get("other")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("requests: %d in %.1f s = %.0f/s; orders %.0f/s (201: %d, 422: %d), cancels %.0f/s, reads %.0f/s, other statuses %d\n",
    summary.requests, secs, summary.requests / secs, o / secs, cr, rf, c / secs, rd / secs, ot))
  io.write(string.format("latency (all requests) ms: p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
  io.write(string.format("ORDERS=%d SECS=%.3f\n", o, secs))
end
