-- Adds what one gateway observed of its deployments and returns what all
-- the gateways did, in one call.
-- KEYS, per deployment: its tokens in this minute, in the minute before,
-- its latency hash (fields "latency" and "ttft", moving averages in seconds).
-- ARGV[1]: the weight of a new sample; ARGV[2]: the tokens' ttl in ms;
-- ARGV[3]: the latencies' ttl in ms; per deployment: tokens, then the
-- count and sum in seconds of the latencies, then of the times to first token.
-- Returns, per deployment: tokens this minute, the minute before, latency,
-- time to first token ("" when never measured).
local w = tonumber(ARGV[1])
local out = {}
local function fold(key, field, n, sum, ttl)
  local v = redis.call('HGET', key, field)
  if n > 0 then
    local mean = sum / n
    if v then
      v = mean + (1 - w) ^ n * (tonumber(v) - mean)
    else
      v = mean
    end
    v = tostring(v)
    redis.call('HSET', key, field, v)
    redis.call('PEXPIRE', key, ttl)
  end
  return v or ''
end
for i = 0, #KEYS / 3 - 1 do
  local cur, prev, lat = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  local a = 4 + i * 5
  local tokens = tonumber(ARGV[a])
  local n
  if tokens > 0 then
    n = redis.call('INCRBY', cur, tokens)
    redis.call('PEXPIRE', cur, tonumber(ARGV[2]))
  else
    n = tonumber(redis.call('GET', cur) or '0')
  end
  out[i * 4 + 1] = n
  out[i * 4 + 2] = tonumber(redis.call('GET', prev) or '0')
  out[i * 4 + 3] = fold(lat, 'latency', tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[3]))
  out[i * 4 + 4] = fold(lat, 'ttft', tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[3]))
end
return out
