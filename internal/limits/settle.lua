-- Applies what an ended request gives back and adds, in one call.
-- KEYS: the n counters, then the spend keys.
-- ARGV[1]: n; per counter: N (negative gives back) and ttl in ms (0: leave
-- the expiry as it is); per spend key: the cost and ttl in ms.
-- A count given back never goes below 0: its key may have expired while
-- the request ran.
local n = tonumber(ARGV[1])
for i = 1, n do
  local base = 1 + (i - 1) * 2
  local add, ttl = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  local v = redis.call('INCRBY', KEYS[i], add)
  if v < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
local base = 1 + n * 2
for j = 1, #KEYS - n do
  local cost, ttl = ARGV[base + (j - 1) * 2 + 1], tonumber(ARGV[base + (j - 1) * 2 + 2])
  redis.call('INCRBYFLOAT', KEYS[n + j], cost)
  if ttl > 0 then redis.call('PEXPIRE', KEYS[n + j], ttl) end
end
return 0
