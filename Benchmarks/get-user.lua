-- GET /api/v1/users/{id} over ids 1..USERS (default 10000), picked at random.
-- The Authorization header comes from wrk's -H.
local users = tonumber(os.getenv("USERS") or "10000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/users/" .. math.random(1, users))
end
-- PACE_MS: each connection waits that long before each request (see paced.lua).
local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then
  delay = function() return pace end
end
