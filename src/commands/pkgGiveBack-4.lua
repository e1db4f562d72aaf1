--[[
  Gives a package's ids back to the front of its campaign's backlog and removes the package: the
  reaper does this for a package whose job is gone or ended while it still holds ids (a worker
  died between making the package and adding its job; a job that failed outside our processor,
  such as one stalled past BullMQ's limit). Messages that were active or retried are waiting
  again; a message the gateway took before is recovered as a 208 when it is sent again.

  KEYS[1] packages hash, KEYS[2] packages zset, KEYS[3] messages in packages, KEYS[4] ready set
  ARGV[1] queue key prefix (bull:<queue>:), ARGV[2] package id
  Built keys: the campaign's state hash, counts hash and backlog list (vb:c:<c>:…, vb:bl:<c>).
  Returns how many ids went back.
]]
--- @include "includes/counts"
local base = ARGV[1]
local pkg = redis.call('HGET', KEYS[1], ARGV[2])
if not pkg then return 0 end
local tab = string.find(pkg, '\t', 1, true)
local c = string.sub(pkg, 1, tab - 1)
local ids = {}
for id in string.gmatch(string.sub(pkg, tab + 1), '[^,]+') do ids[#ids + 1] = id end
local state = base .. 'vb:c:' .. c .. ':state'
for _, id in ipairs(ids) do
  local old = redis.call('HGET', state, id)
  if old == 'a' or old == 'd' then
    redis.call('HSET', state, id, 'w')
    bump(old, -1)
    bump('w', 1)
  end
end
for i = #ids, 1, -1 do redis.call('LPUSH', base .. 'vb:bl:' .. c, ids[i]) end
redis.call('SADD', KEYS[4], c)
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('DECRBY', KEYS[3], #ids)
flush(base .. 'vb:c:' .. c .. ':counts')
return #ids
