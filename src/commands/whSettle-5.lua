--[[
  What one webhook request came to, for each event it carried:
    d  delivered: the event goes (due, JSON, tries), and the held count with it — a request's
       worth in three commands
    r  failed: one more try (tries, first failure, last error kept); due again at ARGV's due, or
       given up when its first failure is ARGV[2] ms old or older: it moves to the dead zset,
       JSON and tries kept for `viber-bulk webhooks --failed`
    b  back: due again at ARGV's due, no try counted (the sender closed, or the endpoint is gone)
  An event no longer due (another sender took it over after a lost lease and settled it) is left
  alone, but for `d`: what was delivered goes, whoever holds it now, given up or not (a delivered
  event is done).

  KEYS[1] outbox config hash, KEYS[2] due zset, KEYS[3] events hash, KEYS[4] tries hash,
  KEYS[5] dead zset (given up: event id -> when)
  ARGV[1] now (ms), ARGV[2] retry for (ms), ARGV[3] last error (short text)
  ARGV[4..] triples: event id, op, due (ms)
  Returns { delivered, retried, given up }.
]]
local now = tonumber(ARGV[1])
local done = {}
local retried, dead = 0, 0
for i = 4, #ARGV, 3 do
  local id, op, due = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'd' then
    done[#done + 1] = id
  elseif redis.call('ZSCORE', KEYS[2], id) then
    if op == 'r' then
      local t = redis.call('HGET', KEYS[4], id)
      local tries, first = 0, now
      if t then
        local n, f = string.match(t, '^(%d+):(%d+):')
        tries, first = tonumber(n), tonumber(f)
      end
      tries = tries + 1
      redis.call('HSET', KEYS[4], id, tries .. ':' .. first .. ':' .. ARGV[3])
      if now - first >= tonumber(ARGV[2]) then
        redis.call('ZREM', KEYS[2], id)
        redis.call('ZADD', KEYS[5], now, id)
        dead = dead + 1
      else
        redis.call('ZADD', KEYS[2], due, id)
        retried = retried + 1
      end
    else
      redis.call('ZADD', KEYS[2], due, id)
    end
  end
end
local delivered = 0
if #done > 0 then
  delivered = redis.call('ZREM', KEYS[2], unpack(done))
  -- One another sender gave up meanwhile was delivered after all: it leaves the dead too.
  local held = delivered + redis.call('ZREM', KEYS[5], unpack(done))
  redis.call('HDEL', KEYS[3], unpack(done))
  redis.call('HDEL', KEYS[4], unpack(done))
  if held > 0 then redis.call('HINCRBY', KEYS[1], 'held', -held) end
end
return { delivered, retried, dead }
