--[[
  A purge drops its campaign's packages: those still holding ids leave the packages hash and zset
  (their messages are being dropped with the campaign), and the campaign's package set goes. The
  caller then removes each package's BullMQ job with BullMQ's own Queue.remove.

  KEYS[1] the campaign's package set, KEYS[2] packages hash, KEYS[3] packages zset,
  KEYS[4] messages in packages
  Returns every package id the campaign had.
]]
local ids = redis.call('SMEMBERS', KEYS[1])
local held = 0
for _, p in ipairs(ids) do
  local pkg = redis.call('HGET', KEYS[2], p)
  if pkg then
    local tab = string.find(pkg, '\t', 1, true)
    for _ in string.gmatch(string.sub(pkg, tab + 1), '[^,]+') do held = held + 1 end
    redis.call('HDEL', KEYS[2], p)
    redis.call('ZREM', KEYS[3], p)
  end
end
if held > 0 then redis.call('DECRBY', KEYS[4], held) end
redis.call('DEL', KEYS[1])
return ids
