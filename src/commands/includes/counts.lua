--[[
  Count bookkeeping of a campaign's counts hash: bump() per message (add() for `total`),
  flush(countsKey) once per
  campaign at the end of a script. Changes are summed here and written once per field: a batch of
  50 moving from active to completed is 3 HINCRBYs, not 150. flush() returns true when this call
  finished the campaign (set its finishedAt), for the host's campaign.finished event.
]]
local stateNames = { w = 'waiting', a = 'active', d = 'delayed', c = 'completed', f = 'failed',
  p = 'paused', x = 'cancelled', e = 'expired', u = 'suppressed' }

local delta = {}
local function bump(st, by)
  local name = stateNames[string.sub(st, 1, 1)]
  delta[name] = (delta[name] or 0) + by
  local code = string.sub(st, 3)
  if code ~= '' then
    local field = 'code:' .. code
    delta[field] = (delta[field] or 0) + by
  end
end

-- A count that is no state's (`total`), summed and written with the rest.
local function add(field, by)
  delta[field] = (delta[field] or 0) + by
end

local function flush(countsKey)
  for field, by in pairs(delta) do
    if by ~= 0 then redis.call('HINCRBY', countsKey, field, by) end
  end
  delta = {}
  -- When the campaign's last message left waiting/active/delayed/paused (purge --older-than and
  -- --keep-finished read it); cleared when one comes back (retry-failed, resume).
  local open = 0
  for _, v in ipairs(redis.call('HMGET', countsKey, 'waiting', 'active', 'delayed', 'paused')) do
    open = open + (tonumber(v) or 0)
  end
  if open == 0 then
    local t = redis.call('TIME')
    return redis.call('HSETNX', countsKey, 'finishedAt',
      tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) == 1
  end
  redis.call('HDEL', countsKey, 'finishedAt')
  return false
end
