--[[
  Read-only: which of these campaigns may not send now, and why (heldLetter). A worker asks before
  it waits for a rate slot, so that messages of a paused, cancelled, expired or not-yet-due
  campaign never take one; the activate step asks again once the slot is granted.

  KEYS[1] control hash, KEYS[2] deadlines hash, KEYS[3] gate hash
  ARGV campaigns
  Returns one letter per campaign ('' when it may send).
]]
--- @include "includes/heldLetter"
--- @include "includes/nowMs"
local now = nowMs()
local out = {}
for i = 1, #ARGV do out[i] = heldLetter(KEYS[1], KEYS[2], KEYS[3], ARGV[i], now) or '' end
return out
