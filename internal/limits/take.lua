-- Checks and takes one request's counts, all or none, then reads the
-- shared spend of its budgets.
-- KEYS: the n counters, then the spend keys.
-- ARGV[1]: n; per counter: N (what the request takes), limit (<= 0: none),
-- ttl in ms (0: leave the expiry as it is); per spend key: the seed (the
-- spend this gateway knows of, set when the key is missing) and ttl in ms.
-- Returns {refused (0-based index, -1: none), count of each counter, spend
-- of each budget}.
local n = tonumber(ARGV[1])
local counts = {}
for i = 1, n do
  local base = 1 + (i - 1) * 3
  local add, limit = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  if v < 0 then v = 0 end
  counts[i] = v
  if limit > 0 and ((add == 0 and v >= limit) or (add > 0 and v + add > limit)) then
    local out = {i - 1}
    for j = 1, i do out[j + 1] = counts[j] end
    return out
  end
end
local out = {-1}
for i = 1, n do
  local base = 1 + (i - 1) * 3
  local add, ttl = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 3])
  if add ~= 0 then
    counts[i] = redis.call('INCRBY', KEYS[i], add)
    if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
  out[i + 1] = counts[i]
end
local base = 1 + n * 3
for j = 1, #KEYS - n do
  local k = KEYS[n + j]
  local seed, ttl = ARGV[base + (j - 1) * 2 + 1], tonumber(ARGV[base + (j - 1) * 2 + 2])
  if ttl > 0 then
    redis.call('SET', k, seed, 'NX', 'PX', ttl)
  else
    redis.call('SET', k, seed, 'NX')
  end
  out[n + 1 + j] = redis.call('GET', k)
end
return out
