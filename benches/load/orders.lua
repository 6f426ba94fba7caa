-- POST /v1/orders from many users (keys in $KEYS_FILE, one per line).
-- Orders are 1-share limit buys far below the market on five symbols:
-- half GTC (they rest, reserving 1.00 each), half IOC (cancelled unfilled,
-- releasing their reservation): every request goes the whole way through
-- validation, reservation, the book and settlement.
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do keys[#keys + 1] = line end
local symbols = { "ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI" }
local n = 0
request = function()
  n = n + 1
  local key = keys[(n % #keys) + 1]
  local tif = (n % 2 == 0) and "gtc" or "ioc"
  local body = string.format(
    '{"symbol":"%s","side":"buy","type":"limit","quantity":1,"limit_price":"1.00","time_in_force":"%s"}',
    symbols[(n % #symbols) + 1], tif)
  return wrk.format("POST", "/v1/orders",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
response = function(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
