-- A guest's whole checkout, two requests: POST /api/v1/carts with its line of product
-- PRODUCT, then POST /api/v1/orders (a card that succeeds, a new Idempotency-Key); with
-- SEPARATE_LINE=1, three: an empty cart, then PUT the line, then the order. Each wrk
-- thread runs many checkouts at once as a little state machine: a response moves its cart
-- to the next step, and request() sends the most advanced step waiting (orders first, then
-- lines, then new carts). Each confirmed order's time from its cart's request (found by
-- the order's cart_id) is written to LATENCY_DIR/thread-N.txt in milliseconds, for the
-- p50/p99 of a complete checkout.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } timeval;
  int gettimeofday(timeval *tv, void *tz);
]]
local tv = ffi.new("timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local product = os.getenv("PRODUCT")
local separate_line = os.getenv("SEPARATE_LINE") == "1"
local new_cart = separate_line and "" or string.format('{"lines":[{"product_id":%s,"quantity":1}]}', product)
local run = (os.getenv("RUN") or "bench") .. "-" .. os.time()
local threads = 0
setup = function(thread)
  thread:set("number", threads)
  threads = threads + 1
end

local lines, orders = {}, {}         -- queues of cart tokens waiting for that step
local started, token_of = {}, {}      -- cart id -> when its checkout began, its token
local pending_carts = {}              -- start times of carts asked for, oldest first
local counter, out, written = 0, nil, 0

init = function(args)
  local dir = os.getenv("LATENCY_DIR")
  if dir then out = io.open(string.format("%s/thread-%d.txt", dir, number), "w") end
end

request = function()
  if #orders > 0 then
    local token = table.remove(orders, 1)
    counter = counter + 1
    local body = string.format(
      '{"email":"guest@example.com","shipping_address":{"name":"Bench Guest","line1":"1 Load Street",'
        .. '"city":"Berlin","postal_code":"10115","country":"DE"},"payment_method":{"token":"pm_card_visa"}}')
    return wrk.format("POST", "/api/v1/orders", {
      ["Content-Type"] = "application/json", ["X-Cart-Token"] = token,
      ["Idempotency-Key"] = string.format("%s-%d-%d", run, number, counter),
    }, body)
  end
  if #lines > 0 then
    local token = table.remove(lines, 1)
    return wrk.format("PUT", "/api/v1/cart/lines/" .. product,
      { ["Content-Type"] = "application/json", ["X-Cart-Token"] = token }, '{"quantity":1}')
  end
  table.insert(pending_carts, now_ms())
  if separate_line then return wrk.format("POST", "/api/v1/carts") end
  return wrk.format("POST", "/api/v1/carts", { ["Content-Type"] = "application/json" }, new_cart)
end

response = function(status, headers, body)
  local token = body:match('"cart_token":"([^"]+)"')
  if token then
    local cart = token:match("^([^.]+)")
    started[cart] = table.remove(pending_carts, 1) or now_ms()
    token_of[cart] = token
    table.insert(separate_line and lines or orders, token)
    return
  end
  if body:find('"checkout_ready"', 1, true) then
    local cart = body:match('"id":"(cart_[0-9a-f]+)"')
    if cart and token_of[cart] then table.insert(orders, token_of[cart]) end
    return
  end
  if status == 201 and out then
    local cart = body:match('"cart_id":"(cart_[0-9a-f]+)"')
    local at = cart and started[cart]
    if at then
      out:write(string.format("%.1f\n", now_ms() - at))
      started[cart], token_of[cart] = nil, nil
      written = written + 1
      if written % 50 == 0 then out:flush() end
    end
  elseif status ~= 201 then
    -- A refused order ends its checkout too; it is counted by wrk as non-2xx.
    local cart = body:match('"cart_id":"(cart_[0-9a-f]+)"')
    if cart then started[cart], token_of[cart] = nil, nil end
  end
end
