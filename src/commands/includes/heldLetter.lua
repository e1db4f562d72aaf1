--[[
  Why a campaign's messages may not go on the wire now, read from its control, deadline and gate
  by Redis's clock: 'e' past its deadline, 'x' cancelled, 'p' paused, 's' before its start or
  outside its window; nil when it may send. An SMS fallback companion is held by its campaign's.
]]
--- @include "gateOf"
--- @include "parentOf"
local function heldLetter(controlHash, deadlineHash, gateHash, c, now)
  c = parentOf(c)
  local control = redis.call('HGET', controlHash, c)
  local deadline = tonumber(redis.call('HGET', deadlineHash, c) or '')
  if deadline and now >= deadline then return 'e' end
  if control == 'cancelled' then return 'x' end
  if control == 'paused' then return 'p' end
  local _, _, _, from, untl = gateOf(gateHash, c)
  if now < from or (untl and now >= untl) then return 's' end
  return nil
end
