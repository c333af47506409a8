-- POST /internal/v1/reservations: one unit of product HOT_PRODUCT per request, each with
-- an id of its own (thread number and a counter), as checkouts of one hot product.
-- The service token comes from INTERNAL_API_TOKEN (a headers table replaces wrk's -H).
local product = os.getenv("HOT_PRODUCT")
-- The start time keeps ids apart between runs (a warm-up, then the measured run).
local run = (os.getenv("RUN") or "bench") .. "-" .. os.time()
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("INTERNAL_API_TOKEN") }
local threads = 0
setup = function(thread)
  thread:set("number", threads)
  threads = threads + 1
end
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"id":"%s-%d-%d","lines":[{"product_id":%s,"quantity":1}],"expires_in_seconds":600}',
    run, number, counter, product)
  return wrk.format("POST", "/internal/v1/reservations", headers, body)
end
