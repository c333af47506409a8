-- POST /api/v1/users (a registration, password hashed with bcrypt) with an email no
-- other request uses.
local next_thread = 0
setup = function(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{"email":"bench-%d-%d-%d@example.com","name":"Bench User","password":"benchmark password"}',
    os.time(), thread_id or 0, counter)
  return wrk.format("POST", "/api/v1/users", { ["Content-Type"] = "application/json" }, body)
end
