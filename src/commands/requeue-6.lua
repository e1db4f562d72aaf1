--[[
  Queues failed messages again (retry-failed): each goes back to its campaign's backlog with its
  record as the caller composed it from its finished record (without its end), its finished
  record gone, its state w — so the dispatcher packages it again with fresh attempts, in its
  campaign's turn. Only messages still failed move (a worker or another operator may have moved
  one meanwhile).

  KEYS[1] state hash, KEYS[2] counts hash, KEYS[3] finished records hash, KEYS[4] queued hash,
  KEYS[5] backlog list, KEYS[6] ready set
  ARGV[1] campaign, ARGV[2..] pairs: id, its record JSON
  Returns the ids queued again.
]]
--- @include "includes/counts"
local out = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local old = redis.call('HGET', KEYS[1], id)
  if old and string.sub(old, 1, 1) == 'f' and redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('HSET', KEYS[4], id, ARGV[i + 1])
    redis.call('HDEL', KEYS[3], id)
    redis.call('HSET', KEYS[1], id, 'w')
    bump(old, -1)
    bump('w', 1)
    redis.call('RPUSH', KEYS[5], id)
    out[#out + 1] = id
  end
end
if #out > 0 then redis.call('SADD', KEYS[6], ARGV[1]) end
flush(KEYS[2])
return out
