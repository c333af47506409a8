-- Each connection waits PACE_MS before each request: with many connections, a steady rate
-- below the server's peak, to read its latency there (Benchmarks/storefront sets it).
local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then
  delay = function() return pace end
end
