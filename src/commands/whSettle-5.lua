--[[
  What one webhook request came to:
    d  delivered: the request and its events go, and the held count with them
    r  failed: one more try (tries, first failure, last error kept); due again at ARGV[6], or
       given up when its first failure is ARGV[2] ms old or older: it moves to the dead zset,
       events and tries kept for `viber-bulk webhooks --failed`
    b  back: due again at ARGV[6], no try counted (the sender closed, or the endpoint is gone)
  A request no longer leased by anyone (another sender took it over after a lost lease and
  settled it) is left alone, but for `d`: what was delivered goes, given up or not.

  KEYS[1] outbox config hash, KEYS[2] due zset, KEYS[3] requests hash, KEYS[4] tries hash,
  KEYS[5] dead zset (request id -> when it was given up)
  ARGV[1] now (ms), ARGV[2] retry for (ms), ARGV[3] last error (short text), ARGV[4] request id,
  ARGV[5] op, ARGV[6] due (ms), ARGV[7] its number of events
  Returns { delivered, retried, given up }, in events.
]]
local now, id, op, n = tonumber(ARGV[1]), ARGV[4], ARGV[5], tonumber(ARGV[7])
if op == 'd' then
  local dead = redis.call('ZREM', KEYS[5], id)
  if redis.call('ZREM', KEYS[2], id) + dead == 0 then return { 0, 0, 0 } end
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('HINCRBY', KEYS[1], 'held', -n)
  if dead == 1 then redis.call('HINCRBY', KEYS[1], 'failed', -n) end
  return { n, 0, 0 }
end
if not redis.call('ZSCORE', KEYS[2], id) then return { 0, 0, 0 } end
if op == 'b' then
  redis.call('ZADD', KEYS[2], ARGV[6], id)
  return { 0, 0, 0 }
end
local t = redis.call('HGET', KEYS[4], id)
local tries, first = 0, now
if t then
  local a, b = string.match(t, '^(%d+):(%d+):')
  tries, first = tonumber(a), tonumber(b)
end
redis.call('HSET', KEYS[4], id, (tries + 1) .. ':' .. first .. ':' .. ARGV[3])
if now - first >= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[5], now, id)
  redis.call('HINCRBY', KEYS[1], 'failed', n)
  return { 0, 0, n }
end
redis.call('ZADD', KEYS[2], ARGV[6], id)
return { 0, n, 0 }
