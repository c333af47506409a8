-- GET /api/v1/products/{id} over ids 1..PRODUCT_IDS (default 100000), picked at random:
-- the whole catalog, or (PRODUCT_IDS=1000) its popular part.
local ids = tonumber(os.getenv("PRODUCT_IDS") or "100000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/products/" .. math.random(1, ids))
end
-- PACE_MS: each connection waits that long before each request (see paced.lua).
local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then
  delay = function() return pace end
end
