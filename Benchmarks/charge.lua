-- POST /internal/v1/payments: one charge of a new order per request (thread number and a
-- counter make the order id and the Idempotency-Key), through the test network with a
-- card that succeeds. CAPTURE=manual authorizes only (the captures are loaded next).
-- The service token comes from INTERNAL_API_TOKEN.
local run = (os.getenv("RUN") or "bench") .. "-" .. os.time()
local capture = os.getenv("CAPTURE") or "automatic"
local token = os.getenv("INTERNAL_API_TOKEN")
local threads = 0
setup = function(thread)
  thread:set("number", threads)
  threads = threads + 1
end
local counter = 0
request = function()
  counter = counter + 1
  local order = string.format("%s-%d-%d", run, number, counter)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "key-" .. order,
  }
  local body = string.format(
    '{"order_id":"%s","customer_id":7,"amount":2599,"currency":"EUR","capture_method":"%s",'
      .. '"payment_method":{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123"}}}',
    order, capture)
  return wrk.format("POST", "/internal/v1/payments", headers, body)
end
