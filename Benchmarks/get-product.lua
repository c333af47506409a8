-- GET /api/v1/products/{id} over ids 1..PRODUCTS (default 100000), picked at random.
local products = tonumber(os.getenv("PRODUCTS") or "100000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/products/" .. math.random(1, products))
end
