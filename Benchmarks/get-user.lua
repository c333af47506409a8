-- GET /api/v1/users/{id} over ids 1..USERS (default 10000), picked at random.
-- The Authorization header comes from wrk's -H.
local users = tonumber(os.getenv("USERS") or "10000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/users/" .. math.random(1, users))
end
