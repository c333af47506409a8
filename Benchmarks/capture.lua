-- POST /api/v1/payments/{id}/capture of authorizations listed one per line in
-- PAYMENT_IDS_FILE, each taken once: of THREADS wrk threads, thread k takes lines
-- k+1, k+1+THREADS, ... A thread that runs out repeats its last one, which answers 409
-- and shows as non-2xx.
local ids = {}
for line in io.lines(os.getenv("PAYMENT_IDS_FILE")) do ids[#ids + 1] = line end
local stride = tonumber(os.getenv("THREADS") or "2")
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("STAFF_TOKEN") }
local threads = 0
setup = function(thread)
  thread:set("number", threads)
  threads = threads + 1
end
local taken = 0
request = function()
  local index = math.min(number + 1 + taken * stride, #ids)
  taken = taken + 1
  return wrk.format("POST", "/api/v1/payments/" .. ids[index] .. "/capture", headers, "{}")
end
