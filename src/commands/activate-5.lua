--[[
  A worker is about to send these messages (its rate slot is granted): marks them active, unless
  their campaign may not send now (heldLetter: past its deadline, cancelled, paused, before its
  start, outside its window), or an operator's pause or cancel has already moved them (pause and
  cancel set the control, then move the messages). Control, timing and states are read in the same
  step, so a message is either sent or held back, never both.

  KEYS[1] state hash, KEYS[2] counts hash, KEYS[3] control hash, KEYS[4] deadlines hash,
  KEYS[5] gate hash
  ARGV[1] campaign
  ARGV[2..] ids

  Returns the ids held back, each followed by 'p' (park it), 'x' (cancel it), 'e' (expire it) or
  's' (back to the backlog: not its time).
]]
--- @include "includes/counts"
--- @include "includes/heldLetter"
--- @include "includes/nowMs"
local held = {}
local letter = heldLetter(KEYS[3], KEYS[4], KEYS[5], ARGV[1], nowMs())
if letter then
  for i = 2, #ARGV do
    held[#held + 1] = ARGV[i]
    held[#held + 1] = letter
  end
  return held
end
for i = 2, #ARGV do
  local id = ARGV[i]
  local old = redis.call('HGET', KEYS[1], id)
  local first = old and string.sub(old, 1, 1)
  if first == 'p' or first == 'x' then
    held[#held + 1] = id
    held[#held + 1] = first
  elseif old and old ~= 'a' then
    redis.call('HSET', KEYS[1], id, 'a')
    bump(old, -1)
    bump('a', 1)
  end
end
flush(KEYS[2])
return held
